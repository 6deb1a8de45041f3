import CLinux
import Testing
@testable import TMMTransport

/// The head parser and the search for the end of a head, without sockets.
@Suite struct HTTPHeadTests {
    @Test(arguments: [
        ("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", 34),
        ("\r\n\r\n", 0),
        ("GET / HTTP/1.1\r\nHost: x\r\n", nil),
        ("GET / HTTP/1.1\n\n", nil),
    ] as [(String, Int?)])
    func findsTheEndOfAHead(text: String, expected: Int?) {
        var finder = HTTPHeadFinder()
        #expect(Array(text.utf8).withUnsafeBytes { finder.find(in: $0) } == expected)
    }

    /// A head that arrives a byte at a time is searched once, not once per byte (the search used to start
    /// over at every read: 64 KiB in single-byte TLS records cost two billion comparisons).
    @Test func aHeadArrivingByteByByteIsSearchedInLinearWork() {
        let text = Array(repeating: UInt8(ascii: "\n"), count: 64 * 1024) + Array("GET /healthz HTTP/1.1\r\n\r\n".utf8)
        var finder = HTTPHeadFinder()
        var found: Int?
        for end in 1...text.count {
            found = text.withUnsafeBytes { finder.find(in: UnsafeRawBufferPointer(rebasing: $0[0..<end])) }
            if found != nil { break }
        }
        #expect(found == text.count - 4)
        // Each byte is looked at about once, plus the three-byte overlap at every call.
        #expect(finder.examined <= 4 * text.count, "examined \(finder.examined) bytes for a \(text.count)-byte head")
    }

    /// Leading empty lines are skipped in one pass (they used to be removed one at a time: 65,000 bare line
    /// feeds cost 0.74 s of event-loop CPU in a release build). Thread CPU time, so other tests running
    /// at the same time do not count; the bound is generous (a linear parse takes well under a
    /// millisecond even in a debug build, the quadratic one took seconds).
    @Test(arguments: ["\n", "\r\n"])
    func leadingEmptyLinesCostLinearWork(newline: String) throws {
        let empties = String(repeating: newline, count: 64 * 1024 / newline.utf8.count - 32)
        let bytes = Array((empties + "GET /healthz HTTP/1.1\r\nHost: x").utf8)
        #expect(bytes.count <= 64 * 1024)
        let start = tmm_thread_cpu_nanoseconds()
        let head = try bytes.withUnsafeBytes { (buffer) throws(HTTPHead.Rejection) in try HTTPHead.parse(buffer) }
        let used = tmm_thread_cpu_nanoseconds() - start
        #expect(head.target == "/healthz")
        #expect(used < 50_000_000, "parsing a 64 KiB head took \(used / 1_000_000) ms of CPU")
    }

    @Test(arguments: ["\r\r\nGET / HTTP/1.1", "\rGET / HTTP/1.1"])
    func aBareCarriageReturnBeforeTheRequestLineIsRefused(text: String) {
        #expect(throws: HTTPHead.Rejection.self) {
            try Array(text.utf8).withUnsafeBytes { (buffer) throws(HTTPHead.Rejection) in try HTTPHead.parse(buffer) }
        }
    }

    /// What the parser makes of a head: its refusal, or what the server reads from it.
    static func outcome(_ text: String) -> String {
        let parsed = Array(text.utf8).withUnsafeBytes { buffer in
            Result { () throws(HTTPHead.Rejection) in try HTTPHead.parse(buffer) }
        }
        switch parsed {
        case .success(let head):
            let headers = head.headers.map { "\($0.name)=\($0.value)" }.joined(separator: "|")
            return "\(head.method) \(head.target) length=\(head.contentLength) keepAlive=\(head.keepAlive) "
                + "continue=\(head.expectContinue) [\(headers)]"
        case .failure(let rejection):
            return "\(rejection.status) \(rejection.message)"
        }
    }

    @Test(arguments: [
        ("", "400 empty request"),
        ("\r\n\n", "400 empty request"),
        ("GET  / HTTP/1.1", "400 malformed request line"),
        ("GET / HTTP/1.1 x", "400 malformed request line"),
        (" / HTTP/1.1", "400 malformed request line"),
        ("GET  HTTP/1.1", "400 malformed request line"),
        ("GET /", "400 malformed request line"),
        ("G@T / HTTP/1.1", "400 malformed method"),
        ("GET /\u{7F} HTTP/1.1", "400 malformed request target"),
        ("GET / HTTP/2.0", "505 only HTTP/1.0 and HTTP/1.1 are served"),
        ("GET / HTTX/1.1", "400 malformed HTTP version"),
        ("GET / ", "400 malformed HTTP version"),
        ("GET / http/1.1", "400 malformed HTTP version"),
        ("GET x HTTP/1.1", "400 the request target must be a path"),
        ("GET / HTTP/1.1\r\n folded: x", "400 obsolete header line folding is not accepted"),
        ("GET / HTTP/1.1\r\nNoColon", "400 malformed header line"),
        ("GET / HTTP/1.1\r\n: v", "400 malformed header line"),
        ("GET / HTTP/1.1\r\nA: b\n\nC: d", "400 malformed header line"),
        ("GET / HTTP/1.1\r\nBad Name: v", "400 malformed header name"),
        ("GET / HTTP/1.1\r\nX: a\u{01}b", "400 control character in a header value"),
        ("GET / HTTP/1.1\r\nContent-Length: 12a", "400 invalid Content-Length"),
        ("GET / HTTP/1.1\r\nContent-Length: ", "400 invalid Content-Length"),
        ("GET / HTTP/1.1\r\nContent-Length: -1", "400 invalid Content-Length"),
        ("GET / HTTP/1.1\r\nContent-Length: 1234567890123456", "400 invalid Content-Length"),
        ("GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6", "400 conflicting Content-Length headers"),
        ("GET / HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked", "411 chunked request bodies are not accepted; send Content-Length"),
        ("GET / HTTP/1.1\r\nTransfer-Encoding: gzip", "501 unsupported Transfer-Encoding"),
        ("GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked", "400 both Transfer-Encoding and Content-Length"),
        ("GET / HTTP/1.1\r\nExpect: later", "417 unsupported Expect: later"),
        ("POST /validate HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 5",
         "POST /validate length=5 keepAlive=true continue=false [Content-Length=5|content-length=5]"),
        ("POST /v HTTP/1.1\r\nContent-Length: 007\r\nExpect: 100-continue",
         "POST /v length=7 keepAlive=true continue=true [Content-Length=007|Expect=100-continue]"),
        ("\r\n\nGET /a?b=c HTTP/1.0\nX-A:   v w \t\nX-B:\r",
         "GET /a?b=c length=0 keepAlive=false continue=false [X-A=v w|X-B=]"),
        ("GET / HTTP/1.0\r\nConnection: Upgrade, Keep-Alive", "GET / length=0 keepAlive=true continue=false [Connection=Upgrade, Keep-Alive]"),
        ("GET / HTTP/1.0\r\nExpect: 100-continue", "GET / length=0 keepAlive=false continue=false [Expect=100-continue]"),
        ("GET / HTTP/1.1\r\nConnection: close", "GET / length=0 keepAlive=false continue=false [Connection=close]"),
        ("GET / HTTP/1.1\r\nX: caf\u{E9}", "GET / length=0 keepAlive=true continue=false [X=caf\u{E9}]"),
    ])
    func refusesOrReadsEachHeadAsTheServerMust(text: String, expected: String) {
        #expect(Self.outcome(text) == expected)
    }

    @Test func parsesFramingHeadersCaseInsensitively() throws {
        let text = "POST /validate?timeout=5s HTTP/1.1\r\nHOST: a\r\ncontent-LENGTH: 3\r\nConnection: Close\r\nExpect: 100-Continue"
        let head = try Array(text.utf8).withUnsafeBytes { (buffer) throws(HTTPHead.Rejection) in try HTTPHead.parse(buffer) }
        #expect(head.contentLength == 3)
        #expect(head.keepAlive == false)
        #expect(head.expectContinue)
        #expect(head.target == "/validate?timeout=5s")
        let request = HTTPRequest(method: head.method, target: head.target, headers: head.headers)
        #expect(request.header("content-length") == "3")
        #expect(request.query.first { $0.name == "timeout" }?.value == "5s")
    }
}

@Suite struct HTTPRequestTargetTests {
    @Test func pathAndQueryAreSplitOnTheirBytes() {
        let request = HTTPRequest(method: "POST", target: "/v%C3%A9/é?a=1&b=x%20y+z&flag&=empty&é=ü&&c=%zz", headers: [])
        #expect(request.path == "/v%C3%A9/é")
        let query = request.query.map { "\($0.name)=\($0.value)" }
        #expect(query == ["a=1", "b=x y z", "flag=", "=empty", "é=ü", "c=%zz"])
        #expect(HTTPRequest(method: "GET", target: "/healthz", headers: []).query.isEmpty)
        #expect(HTTPRequest(method: "GET", target: "/healthz?", headers: []).path == "/healthz")
    }
}

@Suite struct HTTPResponseHeadTests {
    @Test(arguments: [0, 7, 9, 10, 99, 100, 135, 21_510, 1_000_000, Int(Int32.max)])
    func decimalsAreWrittenAsTheirDigits(_ value: Int) {
        var out: [UInt8] = []
        HTTPResponse.appendDecimal(value, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == String(value))
    }

    @Test func theHeadCarriesStatusHeadersAndLength() {
        var out: [UInt8] = []
        HTTPResponse(status: 403, headers: [("Content-Type", "application/json")], body: Array("{}".utf8))
            .serialize(keepAlive: false, into: &out)
        #expect(
            String(decoding: out, as: UTF8.self)
                == "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
    }
}
