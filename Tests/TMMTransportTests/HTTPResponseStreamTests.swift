import TMMTestSupport
import Foundation
import Synchronization
import Testing
import TMMTransport

/// Streams `/stream?parts=N` as N chunks from another thread, 20 ms apart; `/cut` sends two parts and
/// aborts; anything else is answered "ok".
private struct StreamingHandler: HTTPHandler {
    func handle(_ request: HTTPRequest, responder: HTTPResponder) {
        switch request.path {
        case "/stream":
            let parts = Int(request.query.first { $0.name == "parts" }?.value ?? "3") ?? 3
            let stream = responder.respondStreaming(
                HTTPResponse(status: 200, headers: [("Content-Type", "application/json")], body: Array("first\n".utf8)))
            DispatchQueue.global().async {
                for i in 0..<parts {
                    // A producer that takes its time between parts: the behaviour under test, not a wait.
                    usleep(20_000)
                    stream.write(Array("part \(i)\n".utf8))
                }
                stream.finish()
            }
        case "/cut":
            let stream = responder.respondStreaming(HTTPResponse(status: 200))
            DispatchQueue.global().async {
                stream.write(Array("one\n".utf8))
                stream.write(Array("two\n".utf8))
                // The producer fails a moment after its parts went out (mid-body): the behaviour under test.
                usleep(50_000)
                stream.abort()
            }
        default:
            responder.respond(.text(200, "ok"))
        }
    }
}

/// Streamed (chunked) responses: one chunk per part, keep-alive afterwards, abort closes the connection.
@Suite struct HTTPResponseStreamTests {
    @Test func partsArriveAsChunksAndTheConnectionIsReused() throws {
        let server = try TestServer(handler: StreamingHandler())
        defer { server.stop() }
        let client = try server.client()
        for _ in 0..<2 {
            try client.send(method: "GET", target: "/stream?parts=4", host: "localhost", deadline: deadline(5))
            let (status, headers) = try client.readHead(deadline: deadline(5))
            #expect(status == 200)
            #expect(headers.contains { $0.name == "Transfer-Encoding" && $0.value == "chunked" })
            #expect(!headers.contains { $0.name == "Content-Length" })
            var chunks: [String] = []
            while let chunk = try client.readChunk(deadline: deadline(5)) { chunks.append(String(decoding: chunk, as: UTF8.self)) }
            #expect(chunks == ["first\n", "part 0\n", "part 1\n", "part 2\n", "part 3\n"])
        }
        // The same connection still serves an ordinary request after two streams.
        try client.send(method: "GET", target: "/", host: "localhost", deadline: deadline(5))
        #expect(try client.readResponse(deadline: deadline(5)).bodyText == "ok")
    }

    @Test func readResponseDeChunksAStream() throws {
        let server = try TestServer(handler: StreamingHandler())
        defer { server.stop() }
        let client = try server.client()
        try client.send(method: "GET", target: "/stream?parts=2", host: "localhost", deadline: deadline(5))
        #expect(try client.readResponse(deadline: deadline(5)).bodyText == "first\npart 0\npart 1\n")
    }

    @Test func abortClosesTheConnectionMidBody() throws {
        let server = try TestServer(handler: StreamingHandler())
        defer { server.stop() }
        let client = try server.client()
        try client.send(method: "GET", target: "/cut", host: "localhost", deadline: deadline(5))
        _ = try client.readHead(deadline: deadline(5))
        #expect(try client.readChunk(deadline: deadline(5)) == Array("one\n".utf8))
        #expect(try client.readChunk(deadline: deadline(5)) == Array("two\n".utf8))
        #expect(throws: TLSClientConnection.Failure.self) { _ = try client.readChunk(deadline: deadline(5)) }
        #expect(!client.reusable)
    }
}
