public import TMMBase

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
    /// When the last byte of the request arrived, on the monotonic clock: where the request's time budget
    /// (`?timeout=`) starts.
    public var receivedAt: Deadline
    /// The client presented a certificate that verified against the server's client CA.
    public var clientCertificateVerified: Bool

    public init(
        method: String, target: String, headers: [(name: String, value: String)] = [], body: ArraySlice<UInt8> = [],
        remoteAddress: String = "", receivedAt: Deadline = .distantPast, clientCertificateVerified: Bool = false
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
        if let q = target.utf8.firstIndex(of: UInt8(ascii: "?")) { return target[..<q] }
        return target[...]
    }

    /// The query parameters (unescaped only for `%XX` and `+`), in order.
    public var query: [(name: String, value: String)] {
        guard let q = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return [] }
        // Split on the bytes '&' and '=' (ASCII, so the indices are also the string's).
        return target.utf8[target.utf8.index(after: q)...].split(separator: UInt8(ascii: "&")).map { bytes in
            let pair = Substring(bytes)
            if let eq = bytes.firstIndex(of: UInt8(ascii: "=")) {
                return (
                    PercentEncoding.decode(pair[..<eq], plusAsSpace: true),
                    PercentEncoding.decode(pair[pair.utf8.index(after: eq)...], plusAsSpace: true)
                )
            }
            return (PercentEncoding.decode(pair, plusAsSpace: true), "")
        }
    }

    /// The first value of the header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        for h in headers where h.name.utf8.count == name.utf8.count && ASCII.equalsIgnoringCase(h.name, name) {
            return h.value
        }
        return nil
    }
}
