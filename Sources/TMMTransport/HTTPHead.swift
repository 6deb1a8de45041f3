import TMMBase

/// A parsed request line and header block, before the body is read.
struct HTTPHead {
    var method: String
    var target: String
    var headers: [(name: String, value: String)]
    /// The body length announced by `Content-Length` (0 when absent).
    var contentLength: Int
    var keepAlive: Bool
    var expectContinue: Bool

    /// A request the server refuses before any handler sees it.
    struct Rejection: Error, Equatable {
        var status: Int
        var message: String
    }

    /// Parses the bytes of a request head (request line and headers, without the final empty line).
    /// One pass over the lines, in place: it runs for every request.
    static func parse(_ head: UnsafeRawBufferPointer) throws(Rejection) -> HTTPHead {
        let n = head.count
        // Tolerate empty lines before the request line (RFC 9112 §2.2): skip them in one pass, so a head of
        // 64 KiB of bare line feeds costs a scan, not a quadratic series of removals.
        var next = 0
        while next < n {
            if head[next] == UInt8(ascii: "\n") {
                next += 1
            } else if head[next] == UInt8(ascii: "\r"), next + 1 < n, head[next + 1] == UInt8(ascii: "\n") {
                next += 2
            } else {
                break
            }
        }
        /// The line starting at `next`, without its line feed and a carriage return before it; nil after
        /// the last one.
        func nextLine() -> UnsafeRawBufferPointer? {
            guard next < n else { return nil }
            let start = next
            var end = start
            while end < n, head[end] != UInt8(ascii: "\n") { end += 1 }
            next = end + 1
            if end > start, head[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            return UnsafeRawBufferPointer(rebasing: head[start..<end])
        }
        guard let requestLine = nextLine() else { throw Rejection(status: 400, message: "empty request") }

        // Exactly two spaces: method, target, version.
        var spaces = (0, 0)
        var spaceCount = 0
        for (i, b) in requestLine.enumerated() where b == UInt8(ascii: " ") {
            spaceCount += 1
            if spaceCount == 1 { spaces.0 = i } else if spaceCount == 2 { spaces.1 = i }
        }
        guard spaceCount == 2, spaces.0 > 0, spaces.1 > spaces.0 + 1 else {
            throw Rejection(status: 400, message: "malformed request line")
        }
        let methodBytes = UnsafeRawBufferPointer(rebasing: requestLine[..<spaces.0])
        let targetBytes = UnsafeRawBufferPointer(rebasing: requestLine[(spaces.0 + 1)..<spaces.1])
        let versionBytes = UnsafeRawBufferPointer(rebasing: requestLine[(spaces.1 + 1)...])
        for b in methodBytes where !isTokenByte(b) { throw Rejection(status: 400, message: "malformed method") }
        for b in targetBytes where b <= 0x20 || b >= 0x7F { throw Rejection(status: 400, message: "malformed request target") }
        let isHTTP11: Bool
        if versionBytes.elementsEqual("HTTP/1.1".utf8) {
            isHTTP11 = true
        } else if versionBytes.elementsEqual("HTTP/1.0".utf8) {
            isHTTP11 = false
        } else {
            let version = String(decoding: versionBytes, as: UTF8.self)
            if version.hasPrefix("HTTP/") { throw Rejection(status: 505, message: "only HTTP/1.0 and HTTP/1.1 are served") }
            throw Rejection(status: 400, message: "malformed HTTP version")
        }
        // The target is printable ASCII (checked above), so its first byte is its first character.
        guard targetBytes[0] == UInt8(ascii: "/") else {
            throw Rejection(status: 400, message: "the request target must be a path")
        }
        let target = String(decoding: targetBytes, as: UTF8.self)

        var headers: [(name: String, value: String)] = []
        headers.reserveCapacity(8)
        var contentLength: Int?
        var chunked = false
        var hasTransferEncoding = false
        var connectionClose = false
        var connectionKeepAlive = false
        var expectContinue = false
        while let line = nextLine() {
            if let first = line.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
                throw Rejection(status: 400, message: "obsolete header line folding is not accepted")
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0 else {
                throw Rejection(status: 400, message: "malformed header line")
            }
            for b in line[..<colon] where !isTokenByte(b) {
                throw Rejection(status: 400, message: "malformed header name")
            }
            var vs = colon + 1
            var ve = line.count
            while vs < ve, ASCII.isSpaceOrTab(line[vs]) { vs += 1 }
            while ve > vs, ASCII.isSpaceOrTab(line[ve - 1]) { ve -= 1 }
            for b in line[vs..<ve] where (b < 0x20 && b != 0x09) || b == 0x7F {
                throw Rejection(status: 400, message: "control character in a header value")
            }
            let nameBytes = UnsafeRawBufferPointer(rebasing: line[..<colon])
            let valueBytes = UnsafeRawBufferPointer(rebasing: line[vs..<ve])
            let name = String(decoding: nameBytes, as: UTF8.self)
            let value = String(decoding: valueBytes, as: UTF8.self)
            headers.append((name, value))
            // Only the framing headers matter here; compare names without allocating.
            let known: KnownHeader? =
                ASCII.equalsIgnoringCase(nameBytes, lowercase: "content-length") ? .contentLength
                : ASCII.equalsIgnoringCase(nameBytes, lowercase: "transfer-encoding") ? .transferEncoding
                : ASCII.equalsIgnoringCase(nameBytes, lowercase: "connection") ? .connection
                : ASCII.equalsIgnoringCase(nameBytes, lowercase: "expect") ? .expect : nil
            switch known {
            case .contentLength:
                // At most 15 digits: no overflow, and far above any body limit.
                guard !valueBytes.isEmpty, valueBytes.count <= 15, valueBytes.allSatisfy(ASCII.isDigit)
                else { throw Rejection(status: 400, message: "invalid Content-Length") }
                let length = valueBytes.reduce(0) { $0 * 10 + Int($1 &- UInt8(ascii: "0")) }
                if let contentLength, contentLength != length {
                    throw Rejection(status: 400, message: "conflicting Content-Length headers")
                }
                contentLength = length
            case .transferEncoding:
                hasTransferEncoding = true
                if value.lowercased().contains("chunked") { chunked = true }
            case .connection:
                for token in value.lowercased().split(separator: ",") {
                    let t = token.trimmingSpaces
                    if t == "close" { connectionClose = true }
                    if t == "keep-alive" { connectionKeepAlive = true }
                }
            case .expect:
                if value.lowercased() == "100-continue" {
                    expectContinue = true
                } else {
                    throw Rejection(status: 417, message: "unsupported Expect: \(value)")
                }
            case nil:
                break
            }
        }
        if hasTransferEncoding {
            if contentLength != nil {
                throw Rejection(status: 400, message: "both Transfer-Encoding and Content-Length")
            }
            throw Rejection(
                status: chunked ? 411 : 501,
                message: chunked
                    ? "chunked request bodies are not accepted; send Content-Length"
                    : "unsupported Transfer-Encoding")
        }
        let keepAlive = isHTTP11 ? !connectionClose : connectionKeepAlive
        return HTTPHead(
            method: String(decoding: methodBytes, as: UTF8.self), target: target, headers: headers,
            contentLength: contentLength ?? 0, keepAlive: keepAlive, expectContinue: expectContinue && isHTTP11)
    }
}

enum KnownHeader { case contentLength, transferEncoding, connection, expect }

/// RFC 9110 token characters.
@inline(__always) func isTokenByte(_ b: UInt8) -> Bool {
    if ASCII.isAlphanumeric(b) { return true }
    switch b {
    case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
        UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
        UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
        return true
    default:
        return false
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return s
    }
}
