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
    static func parse(_ head: UnsafeRawBufferPointer) throws(Rejection) -> HTTPHead {
        var lines: [UnsafeRawBufferPointer] = []
        let n = head.count
        // Tolerate empty lines before the request line (RFC 9112 §2.2): skip them in one pass, so a head of
        // 64 KiB of bare line feeds costs a scan, not a quadratic series of removals.
        var start = 0
        while start < n {
            if head[start] == UInt8(ascii: "\n") {
                start += 1
            } else if head[start] == UInt8(ascii: "\r"), start + 1 < n, head[start + 1] == UInt8(ascii: "\n") {
                start += 2
            } else {
                break
            }
        }
        var i = start
        while i < n {
            if head[i] == UInt8(ascii: "\n") {
                var end = i
                if end > start, head[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                lines.append(UnsafeRawBufferPointer(rebasing: head[start..<end]))
                start = i + 1
            }
            i += 1
        }
        if start < n {
            var end = n
            if head[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            lines.append(UnsafeRawBufferPointer(rebasing: head[start..<end]))
        }
        guard let requestLine = lines.first else { throw Rejection(status: 400, message: "empty request") }

        let parts = requestLine.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw Rejection(status: 400, message: "malformed request line")
        }
        for b in parts[0] where !isTokenByte(b) { throw Rejection(status: 400, message: "malformed method") }
        for b in parts[1] where b <= 0x20 || b >= 0x7F { throw Rejection(status: 400, message: "malformed request target") }
        let version = String(decoding: parts[2], as: UTF8.self)
        let isHTTP11: Bool
        switch version {
        case "HTTP/1.1": isHTTP11 = true
        case "HTTP/1.0": isHTTP11 = false
        default:
            if version.hasPrefix("HTTP/") { throw Rejection(status: 505, message: "only HTTP/1.0 and HTTP/1.1 are served") }
            throw Rejection(status: 400, message: "malformed HTTP version")
        }
        let target = String(decoding: parts[1], as: UTF8.self)
        guard target.hasPrefix("/") else { throw Rejection(status: 400, message: "the request target must be a path") }

        var headers: [(name: String, value: String)] = []
        headers.reserveCapacity(lines.count - 1)
        var contentLength: Int?
        var chunked = false
        var hasTransferEncoding = false
        var connectionClose = false
        var connectionKeepAlive = false
        var expectContinue = false
        for line in lines.dropFirst() {
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
            let name = String(decoding: nameBytes, as: UTF8.self)
            let value = String(decoding: line[vs..<ve], as: UTF8.self)
            headers.append((name, value))
            // Only the framing headers matter here; compare names without allocating.
            let known: KnownHeader? =
                ASCII.equalsIgnoringCase(nameBytes, lowercase: "content-length") ? .contentLength
                : ASCII.equalsIgnoringCase(nameBytes, lowercase: "transfer-encoding") ? .transferEncoding
                : ASCII.equalsIgnoringCase(nameBytes, lowercase: "connection") ? .connection
                : ASCII.equalsIgnoringCase(nameBytes, lowercase: "expect") ? .expect : nil
            switch known {
            case .contentLength:
                guard !value.isEmpty, value.utf8.allSatisfy(ASCII.isDigit), value.utf8.count <= 15, let length = Int(value)
                else { throw Rejection(status: 400, message: "invalid Content-Length") }
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
            method: String(decoding: parts[0], as: UTF8.self), target: target, headers: headers,
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
