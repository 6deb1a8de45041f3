/// A complete HTTP/1.1 request: head and body.
public struct HTTPRequest: Sendable {
    /// The method, e.g. `POST`.
    public var method: String
    /// The request target as sent, e.g. `/validate?timeout=5s`.
    public var target: String
    /// The headers in the order received; names as sent.
    public var headers: [(name: String, value: String)]
    /// The body (empty when there is none). A slice of the connection's receive buffer, not a copy.
    public var body: ArraySlice<UInt8>
    /// The peer's address, for logs.
    public var remoteAddress: String
    /// When the last byte of the request arrived (monotonic nanoseconds, see `MonotonicClock`).
    public var receivedAt: UInt64
    /// The client presented a certificate that verified against the server's client CA.
    public var clientCertificateVerified: Bool

    public init(
        method: String, target: String, headers: [(name: String, value: String)] = [], body: ArraySlice<UInt8> = [],
        remoteAddress: String = "", receivedAt: UInt64 = 0, clientCertificateVerified: Bool = false
    ) {
        self.clientCertificateVerified = clientCertificateVerified
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
        self.receivedAt = receivedAt
    }

    /// The path part of the target (before `?`).
    public var path: Substring {
        if let q = target.firstIndex(of: "?") { return target[..<q] }
        return target[...]
    }

    /// The query parameters (unescaped only for `%XX` and `+`), in order.
    public var query: [(name: String, value: String)] {
        guard let q = target.firstIndex(of: "?") else { return [] }
        return target[target.index(after: q)...].split(separator: "&").map { pair in
            if let eq = pair.firstIndex(of: "=") {
                return (percentDecode(pair[..<eq]), percentDecode(pair[pair.index(after: eq)...]))
            }
            return (percentDecode(pair), "")
        }
    }

    /// The first value of the header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        for h in headers where h.name.utf8.count == name.utf8.count && equalsIgnoringASCIICase(h.name, name) {
            return h.value
        }
        return nil
    }
}

func percentDecode(_ s: Substring) -> String {
    guard s.contains("%") || s.contains("+") else { return String(s) }
    var out: [UInt8] = []
    var bytes = s.utf8.makeIterator()
    while let b = bytes.next() {
        if b == UInt8(ascii: "+") {
            out.append(UInt8(ascii: " "))
        } else if b == UInt8(ascii: "%"), let h = bytes.next(), let l = bytes.next(),
            let v = UInt8(String(decoding: [h, l], as: UTF8.self), radix: 16)
        {
            out.append(v)
        } else {
            out.append(b)
        }
    }
    return String(decoding: out, as: UTF8.self)
}

/// ASCII case-insensitive string equality, without allocating.
func equalsIgnoringASCIICase(_ a: String, _ b: String) -> Bool {
    var i = a.utf8.makeIterator()
    var j = b.utf8.makeIterator()
    while true {
        switch (i.next(), j.next()) {
        case (nil, nil): return true
        case (var x?, var y?):
            if x >= 65 && x <= 90 { x |= 0x20 }
            if y >= 65 && y <= 90 { y |= 0x20 }
            if x != y { return false }
        default: return false
        }
    }
}
