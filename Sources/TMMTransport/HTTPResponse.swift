import TMMBase

/// An HTTP response the server writes.
public struct HTTPResponse: Sendable {
    public var status: Int
    /// Extra headers. `Content-Length`, `Date`-free framing and `Connection` are added by the server.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Close the connection after this response.
    public var closeConnection: Bool

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = [], closeConnection: Bool = false) {
        self.status = status
        self.headers = headers
        self.body = body
        self.closeConnection = closeConnection
    }

    /// A JSON response.
    public static func json(_ status: Int, _ body: [UInt8], closeConnection: Bool = false) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")], body: body, closeConnection: closeConnection)
    }

    /// A plain-text response.
    public static func text(_ status: Int, _ body: String, closeConnection: Bool = false) -> HTTPResponse {
        HTTPResponse(
            status: status, headers: [("Content-Type", "text/plain; charset=utf-8")], body: Array(body.utf8),
            closeConnection: closeConnection)
    }

    /// A JSON error body `{"error": message, "status": code}`, the shape every server-made error uses.
    public static func error(_ status: Int, _ message: String, closeConnection: Bool = false) -> HTTPResponse {
        var body: [UInt8] = Array(#"{"status":"#.utf8)
        body += String(status).utf8
        body += #","error":"#.utf8
        appendJSONString(message, to: &body)
        body += "}\n".utf8
        return .json(status, body, closeConnection: closeConnection)
    }

    /// The head and body as bytes on the wire.
    /// Without `includeBody` (the answer to `HEAD`), the head alone, still announcing the body's length.
    func serialize(keepAlive: Bool, includeBody: Bool = true, into out: inout [UInt8]) {
        serializeHead(contentLength: body.count, keepAlive: keepAlive, into: &out)
        if includeBody { out.append(contentsOf: body) }
    }

    /// The head of a streamed response: chunked framing instead of `Content-Length`.
    func serializeStreamingHead(keepAlive: Bool, into out: inout [UInt8]) {
        serializeHead(contentLength: nil, keepAlive: keepAlive, into: &out)
    }

    /// Written byte by byte (no interpolated strings): it runs for every response.
    private func serializeHead(contentLength: Int?, keepAlive: Bool, into out: inout [UInt8]) {
        out.append(contentsOf: "HTTP/1.1 ".utf8)
        Self.appendDecimal(status, to: &out)
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: HTTPResponse.reasonPhrase(status).utf8)
        out.append(contentsOf: "\r\n".utf8)
        for h in headers {
            out.append(contentsOf: h.name.utf8)
            out.append(contentsOf: ": ".utf8)
            out.append(contentsOf: h.value.utf8)
            out.append(contentsOf: "\r\n".utf8)
        }
        if let contentLength {
            out.append(contentsOf: "Content-Length: ".utf8)
            Self.appendDecimal(contentLength, to: &out)
            out.append(contentsOf: "\r\n".utf8)
        } else {
            out.append(contentsOf: "Transfer-Encoding: chunked\r\n".utf8)
        }
        if !keepAlive { out.append(contentsOf: "Connection: close\r\n".utf8) }
        out.append(contentsOf: "\r\n".utf8)
    }

    /// Appends the decimal digits of `value` (not negative).
    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        precondition(value >= 0, "a negative number in a response head")
        var divisor = 1
        while divisor <= value / 10 { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            out.append(UInt8(ascii: "0") &+ UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }

    /// Appends `bytes` as one chunk of a chunked body.
    static func appendChunk(_ bytes: [UInt8], to out: inout [UInt8]) {
        out.append(contentsOf: String(bytes.count, radix: 16).utf8)
        out.append(contentsOf: "\r\n".utf8)
        out.append(contentsOf: bytes)
        out.append(contentsOf: "\r\n".utf8)
    }

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 201: "Created"
        case 204: "No Content"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 409: "Conflict"
        case 410: "Gone"
        case 408: "Request Timeout"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 417: "Expectation Failed"
        case 422: "Unprocessable Entity"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        case 505: "HTTP Version Not Supported"
        default: "Status"
        }
    }
}

/// Appends `s` as a quoted JSON string (the transport has no JSON dependency of its own).
func appendJSONString(_ s: String, to out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    for b in s.utf8 {
        switch b {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"):
            out.append(UInt8(ascii: "\\"))
            out.append(b)
        case 0..<0x20:
            out.append(contentsOf: "\\u00".utf8)
            out.append(ASCII.hexDigit(b >> 4, uppercase: false))
            out.append(ASCII.hexDigit(b, uppercase: false))
        default: out.append(b)
        }
    }
    out.append(UInt8(ascii: "\""))
}
