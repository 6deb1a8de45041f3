import Testing
@testable import TMMTransport

/// The head parser and the quick Content-Length scan, without sockets.
@Suite struct HTTPHeadTests {
    @Test(arguments: [
        ("POST / HTTP/1.1\r\nContent-Length: 5", 5),
        ("POST / HTTP/1.1\r\ncontent-length:12", 12),
        ("POST / HTTP/1.1\r\nHost: x\r\nCONTENT-LENGTH: \t7", 7),
        ("POST / HTTP/1.1\r\nX-Content-Length: 9", nil),
        ("POST / HTTP/1.1\r\nHost: x", nil),
        ("POST / HTTP/1.1\r\nContent-Length: x", nil),
    ] as [(String, Int?)])
    func findsContentLengthInARawHead(head: String, expected: Int?) {
        let bytes = Array(head.utf8)
        #expect(bytes.withUnsafeBytes { contentLength(in: $0) } == expected)
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
