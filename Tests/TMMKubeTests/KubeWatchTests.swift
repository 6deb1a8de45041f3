import TMMTestSupport
import Foundation
import Synchronization
import Testing
import TMMBase
import TMMJSON
import TMMKube
import TMMTransport

/// WATCH streams from the fake server: the recorded events one chunk each, BOOKMARKs, the 410 ERROR
/// event, a stream cut in the middle, a callback that stops, and the deadline.
@Suite struct KubeWatchTests {
    /// Collects events from the callback (which runs on the calling thread).
    final class Events: @unchecked Sendable {
        // Only touched on the test's own thread, inside the synchronous `watch` call.
        var all: [KubeWatchEvent] = []
    }

    @Test func theRecordedStreamDecodes() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        let client = try KubeClient(config: server.config())
        let events = Events()
        let end = try client.watch("/api/v1/pods", resourceVersion: "231", timeoutSeconds: 3) { event in
            events.all.append(event)
            return true
        }
        #expect(end == .serverClosed)
        #expect(events.all.map(\.type) == [.modified, .modified, .bookmark, .bookmark])
        #expect(events.all[0].object.value(at: "metadata", "name") == "db-1")
        #expect(events.all[0].resourceVersion == "232")
        #expect(events.all[0].object.value(at: "metadata", "annotations", "emm-failure") != nil)
        #expect(events.all[1].object.value(at: "metadata", "annotations", "emm-failure") == nil)
        #expect(events.all[3].resourceVersion == "233")
        #expect(events.all[2].resourceVersion?.isEmpty == false)
        #expect(events.all.allSatisfy { $0.error == nil })
        let target = try #require(server.api.requests.last?.target)
        #expect(target == "/api/v1/pods?watch=true&resourceVersion=231&allowWatchBookmarks=true&timeoutSeconds=3")
        // The stream ended with its last chunk: the connection goes back to the pool.
        _ = try client.get("/api/v1/nodes/n1")
        #expect(client.connectionsOpened == 1)
    }

    /// The fake server frames events as the recorded raw chunked body does, chunk for chunk (the file
    /// holds the body after the head in `watch-pods.headers`).
    @Test func theFakeStreamMatchesTheRecordedChunks() throws {
        let raw = Array(try fixtureData("watch-pods-raw-chunked.http"))
        var rest = raw[...]
        var recordedChunks: [[UInt8]] = []
        while let lineEnd = rest.indices.first(where: { rest[$0...].starts(with: [0x0D, 0x0A]) }) {
            let size = Int(String(decoding: rest[rest.startIndex..<lineEnd], as: UTF8.self), radix: 16)!
            if size == 0 { break }
            recordedChunks.append(Array(rest[(lineEnd + 2)..<(lineEnd + 2 + size)]))
            rest = rest[(lineEnd + 2 + size + 2)...]
        }
        #expect(!recordedChunks.isEmpty)
        #expect(recordedChunks.allSatisfy { $0.last == 0x0A && $0.filter { $0 == 0x0A }.count == 1 })

        let server = try FakeAPIServer()
        defer { server.stop() }
        server.api.setWatchScript(recordedChunks.map { .event($0) })
        let connection = try TLSClientConnection(
            host: "127.0.0.1", port: server.port, context: try server.certificates.clientContext(), deadline: deadline(5))
        let http = HTTPClientConnection(connection)
        try http.send(
            method: "GET", target: "/api/v1/pods?watch=1", host: "127.0.0.1", headers: [("Authorization", "Bearer good-token")],
            deadline: deadline(5))
        let (status, headers) = try http.readHead(deadline: deadline(5))
        #expect(status == 200)
        #expect(headers.contains { $0.name == "Transfer-Encoding" && $0.value == "chunked" })
        var chunks: [[UInt8]] = []
        while let chunk = try http.readChunk(deadline: deadline(5)) { chunks.append(chunk) }
        #expect(chunks == recordedChunks)
    }

    /// A watch from a compacted resourceVersion: the ERROR event with a 410 Status, then the end.
    @Test func tooOldResourceVersionIsAnErrorEventThatIsGone() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        server.api.setWatchScript(watchLines("watch-too-old.stream").map { .event($0) })
        let client = try KubeClient(config: server.config())
        let events = Events()
        let end = try client.watch("/api/v1/pods", resourceVersion: "1") { event in
            events.all.append(event)
            return true
        }
        #expect(end == .serverClosed)
        let event = try #require(events.all.first)
        #expect(events.all.count == 1)
        #expect(event.type == .error)
        let error = try #require(event.error)
        #expect(error.isGone)
        #expect(error.httpStatus == 410)
        #expect(error.reason == "Expired")
        #expect(error.message == "too old resource version: 1 (227)")
    }

    /// The server cuts the connection after one event: the event is delivered, then a transport error
    /// (retryable) says the stream broke; nothing hangs (the watch returns long before its 30 s deadline,
    /// a bound loose enough for a machine busy with the tests running in parallel).
    @Test func aStreamCutMidWatchIsATransportError() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        let lines = watchLines("watch-pods.stream")
        server.api.setWatchScript([.event(lines[0]), .pause(milliseconds: 50), .cut])
        let client = try KubeClient(config: server.config())
        let events = Events()
        let start = Deadline.now()
        let error = try #require(throws: KubeError.self) {
            try client.watch("/api/v1/pods", resourceVersion: "231", deadline: deadline(30)) { event in
                events.all.append(event)
                return true
            }
        }
        #expect(error.code == .transport)
        #expect(error.isRetryable)
        #expect(error.message.contains("the stream broke after 1 events"))
        #expect(events.all.count == 1)
        #expect(events.all.last?.resourceVersion == "232")
        #expect(seconds(since: start) < 15, "the watch returned \(seconds(since: start)) s after the cut")
        // The broken connection was not pooled.
        _ = try client.get("/api/v1/nodes/n1")
        #expect(client.connectionsOpened == 2)
    }

    /// The callback's `false` ends the watch at once, without waiting for the next event (scripted 60 s
    /// later: the loose bound below tells the two apart on a machine busy with parallel tests).
    @Test func theCallbackCanStopTheWatch() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        let lines = watchLines("watch-pods.stream")
        server.api.setWatchScript([.event(lines[0]), .event(lines[1]), .pause(milliseconds: 60_000), .event(lines[2])])
        let client = try KubeClient(config: server.config())
        let events = Events()
        let start = Deadline.now()
        let end = try client.watch("/api/v1/pods", resourceVersion: "231") { event in
            events.all.append(event)
            return events.all.count < 2
        }
        #expect(end == .stopped)
        #expect(events.all.count == 2)
        #expect(seconds(since: start) < 30, "the watch returned \(seconds(since: start)) s after it started")
    }

    /// A silent stream returns at the deadline: not before it (a bound any load respects), and not when
    /// the stream ends (scripted 60 s later; the loose upper bound leaves room for parallel tests).
    @Test func aQuietStreamEndsAtTheDeadline() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        let lines = watchLines("watch-pods.stream")
        server.api.setWatchScript([.event(lines[2]), .pause(milliseconds: 60_000)])
        let client = try KubeClient(config: server.config())
        let events = Events()
        let start = Deadline.now()
        let end = try client.watch("/api/v1/pods", resourceVersion: "231", deadline: deadline(1.5)) { event in
            events.all.append(event)
            return true
        }
        let elapsed = seconds(since: start)
        #expect(end == .deadline)
        #expect(events.all.map(\.type) == [.bookmark])
        #expect(elapsed >= 1.49 && elapsed < 30, "took \(elapsed) s")
    }

    /// A watch that gets a 401 re-reads the token file and retries once, like any call.
    @Test func aWatchRetriesOnceAfterA401() throws {
        let server = try FakeAPIServer(token: "new")
        defer { server.stop() }
        let directory = try temporaryDirectory()
        // The server has moved on to "new"; the file still says "old" when the client first reads it.
        let stale = try KubeClient(config: server.config(tokenFile: "\(directory)/token"))
        try write("old", to: "\(directory)/token")
        #expect(throws: KubeError.self) { try stale.get("/api/v1/nodes/n1") }  // reads "old": 401, re-reads "old": 401
        try write("new", to: "\(directory)/token")
        let events = Events()
        let end = try stale.watch("/api/v1/pods", resourceVersion: "231") { event in
            events.all.append(event)
            return true
        }
        #expect(end == .serverClosed)
        #expect(events.all.count == 4)
        let auth = server.api.requests.map(\.authorization)
        #expect(auth.suffix(2) == ["Bearer old", "Bearer new"])
    }

    /// A non-200 answer to a WATCH is decoded like any other (e.g. 403 Forbidden).
    @Test func aRefusedWatchIsDecoded() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        let client = try KubeClient(config: server.config(token: "wrong"))
        let error = try #require(throws: KubeError.self) {
            try client.watch("/api/v1/pods", resourceVersion: nil) { _ in true }
        }
        #expect(error.isUnauthorized)
        #expect(server.api.requests.last?.target == "/api/v1/pods?watch=true&allowWatchBookmarks=true&timeoutSeconds=300")
    }

    @Test func watchEventDecoding() throws {
        let bookmark = try KubeWatchEvent.decode(line: Array(#"{"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"12345"}}}"#.utf8)[...])
        #expect(bookmark.type == .bookmark)
        #expect(bookmark.resourceVersion == "12345")
        #expect(throws: KubeError(.decode, "")) { try KubeWatchEvent.decode(line: Array(#"{"type":"WHAT","object":{}}"#.utf8)[...]) }
        #expect(throws: KubeError(.decode, "")) { try KubeWatchEvent.decode(line: Array("not json".utf8)[...]) }
    }
}
