public import TMMBase

/// HTTP/1.1 over one `TLSClientConnection`: sends requests, reads responses framed by
/// `Content-Length`, `chunked`, or end of stream. Keep-alive is the caller's choice (reuse the object).
public final class HTTPClientConnection {
    /// A received response.
    public struct Response: Sendable {
        public var status: Int
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        public func header(_ name: String) -> String? {
            headers.first { ASCII.equalsIgnoringCase($0.name, name) }?.value
        }

        public var bodyText: String { String(decoding: body, as: UTF8.self) }

        public init(status: Int, headers: [(name: String, value: String)], body: [UInt8]) {
            self.status = status
            self.headers = headers
            self.body = body
        }
    }

    public let connection: TLSClientConnection
    private var buffer: [UInt8] = []
    /// False once the server said `Connection: close` or the stream ended.
    public private(set) var reusable = true

    public init(_ connection: TLSClientConnection) { self.connection = connection }

    /// Sends raw bytes (a whole request, or a deliberately malformed one in tests).
    public func send(raw: [UInt8], deadline: Deadline) throws(TLSClientConnection.Failure) {
        try connection.write(raw, deadline: deadline)
    }

    /// Sends a request with `Content-Length` framing.
    public func send(
        method: String, target: String, host: String, headers: [(String, String)] = [], body: [UInt8] = [],
        deadline: Deadline
    ) throws(TLSClientConnection.Failure) {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: \(host)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" || method == "PUT" || method == "PATCH" {
            head += "Content-Length: \(body.count)\r\n"
        }
        head += "\r\n"
        try connection.write(Array(head.utf8) + body, deadline: deadline)
    }

    /// Reads one whole response.
    public func readResponse(deadline: Deadline) throws(TLSClientConnection.Failure) -> Response {
        var (status, headers) = try readHead(deadline: deadline)
        while status >= 100 && status < 200 && status != 101 {
            (status, headers) = try readHead(deadline: deadline)
        }
        var response = Response(status: status, headers: headers, body: [])
        response.body = try readBody(of: response, deadline: deadline)
        return response
    }

    /// Reads the body that follows a head from `readHead` (framed by its headers; `response.body` is
    /// ignored), e.g. the error body of a request whose success would have been a stream.
    public func readBody(of response: Response, deadline: Deadline) throws(TLSClientConnection.Failure) -> [UInt8] {
        if let value = response.header("Connection"), ASCII.equalsIgnoringCase(value, "close") { reusable = false }
        if let te = response.header("Transfer-Encoding"), te.lowercased().contains("chunked") {
            var body: [UInt8] = []
            while let chunk = try readChunk(deadline: deadline) { body += chunk }
            return body
        } else if let lengthText = response.header("Content-Length") {
            guard let length = Int(lengthText), length >= 0 else {
                throw TLSClientConnection.Failure("invalid Content-Length '\(lengthText)'")
            }
            return try readExactly(length, deadline: deadline)
        } else if response.status == 204 || response.status == 304 {
            return []
        } else {
            while true {
                let more = try connection.read(deadline: deadline)
                if more.isEmpty { break }
                buffer += more
            }
            let body = buffer
            buffer = []
            reusable = false
            return body
        }
    }

    /// Reads a response head; the body is then read with `readChunk` (for streams such as watches).
    public func readHead(deadline: Deadline) throws(TLSClientConnection.Failure) -> (Int, [(name: String, value: String)]) {
        while true {
            if let end = buffer.withUnsafeBytes({ findHeadEnd($0) }) {
                let headText = String(decoding: buffer[0..<end], as: UTF8.self)
                buffer.removeFirst(end + 4)
                var lines = headText.split(separator: "\r\n", omittingEmptySubsequences: false)
                guard !lines.isEmpty else { throw TLSClientConnection.Failure("empty response head") }
                let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2)
                guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]) else {
                    throw TLSClientConnection.Failure("malformed status line")
                }
                let headers = lines.compactMap { line -> (name: String, value: String)? in
                    guard let colon = line.firstIndex(of: ":") else { return nil }
                    return (String(line[..<colon]), line[line.index(after: colon)...].trimmingSpaces.description)
                }
                return (status, headers)
            }
            let more = try connection.read(deadline: deadline)
            if more.isEmpty {
                reusable = false
                throw TLSClientConnection.Failure("the connection closed before a response arrived")
            }
            buffer += more
        }
    }

    /// The next chunk of a chunked body; nil after the last one.
    public func readChunk(deadline: Deadline) throws(TLSClientConnection.Failure) -> [UInt8]? {
        let sizeLine = try readLine(deadline: deadline)
        let sizeText = sizeLine.split(separator: ";").first.map(String.init) ?? ""
        guard let size = Int(sizeText.trimmingCharacters(in: " \t"), radix: 16), size >= 0 else {
            throw TLSClientConnection.Failure("malformed chunk size '\(sizeLine)'")
        }
        if size == 0 {
            // Trailers, then the empty line.
            while !(try readLine(deadline: deadline)).isEmpty {}
            return nil
        }
        let data = try readExactly(size, deadline: deadline)
        guard try readLine(deadline: deadline).isEmpty else { throw TLSClientConnection.Failure("malformed chunk end") }
        return data
    }

    private func readLine(deadline: Deadline) throws(TLSClientConnection.Failure) -> String {
        while true {
            if let i = buffer.firstIndex(of: 0x0A) {
                var line = buffer[0..<i]
                if line.last == 0x0D { line = line.dropLast() }
                let text = String(decoding: line, as: UTF8.self)
                buffer.removeFirst(i + 1)
                return text
            }
            let more = try connection.read(deadline: deadline)
            if more.isEmpty {
                reusable = false
                throw TLSClientConnection.Failure("the connection closed in the middle of a chunked body")
            }
            buffer += more
        }
    }

    private func readExactly(_ n: Int, deadline: Deadline) throws(TLSClientConnection.Failure) -> [UInt8] {
        while buffer.count < n {
            let more = try connection.read(deadline: deadline)
            if more.isEmpty {
                reusable = false
                throw TLSClientConnection.Failure("the connection closed after \(buffer.count) of \(n) body bytes")
            }
            buffer += more
        }
        let out = Array(buffer[0..<n])
        buffer.removeFirst(n)
        return out
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}
