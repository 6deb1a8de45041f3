import TMMTestSupport
import Foundation
import Synchronization
import Testing
import TMMBase
import TMMJSON
import TMMKube
import TMMTransport

/// The client against the fake API server over real TLS sockets on 127.0.0.1.
@Suite struct KubeClientTests {
    @Test func getAnObject() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        let client = try KubeClient(config: server.config())
        let pod = try client.get("/api/v1/namespaces/store/pods/db-0")
        #expect(pod.value(at: "metadata", "name")?.string == "db-0")
        #expect(pod.value(at: "spec", "nodeName")?.string == "n1")
        let request = try #require(server.api.requests.last)
        #expect(request.authorization == "Bearer good-token")
        #expect(request.acceptEncoding == "gzip")
    }

    /// Three pods in pages of two: two requests, the continue token passed back (percent-encoded),
    /// every item once, and the list's resourceVersion.
    @Test(arguments: [1, 2, 3, 500])
    func listPagesThroughContinueTokens(pageSize: Int) throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        let client = try KubeClient(config: server.config())
        let list = try client.listAll("/api/v1/pods", pageSize: pageSize)
        #expect(list.items.compactMap { $0.value(at: "metadata", "name")?.string } == ["db-0", "db-1", "db-2"])
        #expect(list.pages == (3 + pageSize - 1) / pageSize)
        #expect(list.resourceVersion == "300")
        let targets = server.api.requests.map(\.target)
        #expect(targets.first == "/api/v1/pods?limit=\(pageSize)")
        if pageSize < 3 {
            // The token is base64 with '=' padding, which must travel percent-encoded.
            #expect(targets[1].hasPrefix("/api/v1/pods?limit=\(pageSize)&continue="))
            #expect(targets[1].contains("%3D"))
        }
        #expect(client.connectionsOpened == 1)
    }

    @Test func onePageKeepsTheContinueToken() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        let client = try KubeClient(config: server.config())
        let page = try client.list("/api/v1/pods", limit: 2)
        #expect(page["items"]?.array?.count == 2)
        #expect(page.value(at: "metadata", "remainingItemCount")?.int == 1)
        let token = try #require(page.value(at: "metadata", "continue")?.string)
        let rest = try client.list("/api/v1/pods", limit: 2, continue: token)
        #expect(rest["items"]?.array?.first?.value(at: "metadata", "name")?.string == "db-2")
        #expect(rest.value(at: "metadata", "continue") == nil)
    }

    /// The recorded list bodies parse into what the real server meant.
    @Test func recordedListBodiesDecode() throws {
        let page = try JSON.parse(Array(try fixtureData("list-pods-page1.json")))
        #expect(page.value(at: "metadata", "continue")?.string?.isEmpty == false)
        #expect(page.value(at: "metadata", "resourceVersion")?.string == "231")
        #expect(try JSON.parse(Array(try fixtureData("list-nodes.json")))["items"]?.array?.count == 3)
        #expect(try JSON.parse(Array(try fixtureData("list-pdbs.json")))["items"]?.array?.count == 1)
    }

    @Test func gzipResponsesAreDecoded() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        server.api.setGzip(true)
        let client = try KubeClient(config: server.config())
        let nodes = try client.listAll("/api/v1/nodes")
        #expect(nodes.items.count == 3)
        let expected = try JSON.parse(Array(try fixtureData("list-nodes.json")))["items"]!.array!
        #expect(Set(nodes.items.map { $0.serialized }) == Set(expected.map { $0.serialized }))
        // Check the server really compressed: fetch raw without decoding.
        let raw = try rawGET(server, "/api/v1/nodes/n1", acceptGzip: true)
        #expect(raw.header("Content-Encoding") == "gzip")
        #expect(raw.body.prefix(2) == [0x1F, 0x8B])
    }

    /// Each recorded Status body becomes a KubeError with its code, reason and message.
    @Test(arguments: [
        ("status-401.json", 401, "Unauthorized", "Unauthorized"),
        ("status-403.json", 403, "Forbidden", "nodes is forbidden: User \"tmm-webhook\" cannot list resource \"nodes\" in API group \"\" at the cluster scope"),
        ("status-404.json", 404, "NotFound", "pods \"nope\" not found"),
        ("status-409.json", 409, "Conflict", "Operation cannot be fulfilled on pods \"db-2\": the object has been modified; please apply your changes to the latest version and try again"),
        ("status-409-already-exists.json", 409, "AlreadyExists", "leases.coordination.k8s.io \"tmm-webhook\" already exists"),
    ])
    func statusBodiesDecode(file: String, code: Int, reason: String, message: String) throws {
        let server = try FakeAPIServer(token: nil)
        defer { server.stop() }
        let client = try KubeClient(config: server.config())
        let error = try #require(throws: KubeError.self) { try client.get("/fixture/\(file)") }
        #expect(error.code == .status)
        #expect(error.httpStatus == code)
        #expect(error.reason == reason)
        #expect(error.message == message)
        #expect(error.isNotFound == (reason == "NotFound"))
        #expect(error.isConflict == (reason == "Conflict"))
        #expect(error.isAlreadyExists == (reason == "AlreadyExists"))
        #expect(error.isUnauthorized == (code == 401))
        #expect(error.isForbidden == (code == 403))
        #expect(!error.isGone)
        #expect(!error.isRetryable)
        #expect("\(error)" == "\(code) \(reason): \(message)")
    }

    @Test func retryableAndGone() {
        #expect(KubeError(.status, httpStatus: 429, reason: "TooManyRequests", "slow down").isRetryable)
        #expect(KubeError(.status, httpStatus: 503, reason: "ServiceUnavailable", "x").isRetryable)
        #expect(KubeError(.status, httpStatus: 500, reason: "InternalError", "x").isRetryable)
        #expect(KubeError(.timeout, "x").isRetryable)
        #expect(KubeError(.connect, "x").isRetryable)
        #expect(KubeError(.transport, "x").isRetryable)
        #expect(!KubeError(.configuration, "x").isRetryable)
        #expect(KubeError(.status, httpStatus: 410, reason: "Gone", "x").isGone)
        // As client-go: an unknown reason falls back to the HTTP code; a known one decides alone.
        #expect(KubeError(.status, httpStatus: 404, reason: "Object Not Found", "x").isNotFound)
        #expect(!KubeError(.status, httpStatus: 404, reason: "Forbidden", "x").isNotFound)
        #expect(KubeError(.status, httpStatus: 409, reason: "Object Already Exists", "x").isConflict)
        #expect(!KubeError(.status, httpStatus: 409, reason: "Object Already Exists", "x").isAlreadyExists)
        #expect(KubeError(.status, httpStatus: 410, reason: "", "x").isGone)
        #expect(KubeError(status: ["kind": "Status", "code": 410, "reason": "Expired", "message": "too old"]).isGone)
        #expect(KubeError(httpStatus: 502, body: Array("<html>bad gateway</html>".utf8)).message == "<html>bad gateway</html>")
    }

    /// The fake server's Status bodies have the recorded server's exact bytes.
    @Test func fakeStatusBodiesMatchTheRecordedBytes() throws {
        #expect(FakeAPIServer.API.notFound("/api/v1/namespaces/store/pods/nope") == Array(try fixtureData("status-404.json")))
        #expect(
            FakeAPIServer.API.status(
                409, "AlreadyExists", "leases.coordination.k8s.io \"tmm-webhook\" already exists",
                details: ("tmm-webhook", "coordination.k8s.io", "leases")) == Array(try fixtureData("status-409-already-exists.json")))
        #expect(
            FakeAPIServer.API.status(
                409, "Conflict",
                "Operation cannot be fulfilled on pods \"db-2\": the object has been modified; please apply your changes to the latest version and try again",
                details: ("db-2", "", "pods")) == Array(try fixtureData("status-409.json")))
        #expect(FakeAPIServer.API.status(401, "Unauthorized", "Unauthorized") == Array(try fixtureData("status-401.json")))
    }

    @Test func forbiddenIsDecoded() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        let client = try KubeClient(config: server.config())
        let error = try #require(throws: KubeError.self) { try client.get("/forbidden/api/v1/nodes") }
        #expect(error.isForbidden)
        #expect(error.reason == "Forbidden")
    }

    /// A 401 makes the client re-read its token file at once and retry once with the new token.
    @Test func tokenRotationRereadsTheFileAfterA401() throws {
        let server = try FakeAPIServer(token: "token-1")
        defer { server.stop() }
        let directory = try temporaryDirectory()
        let tokenFile = "\(directory)/token"
        try write("token-1\n", to: tokenFile)
        let client = try KubeClient(config: server.config(tokenFile: tokenFile))
        _ = try client.get("/api/v1/nodes/n1")
        // The server now accepts only token-2, and the kubelet has written it.
        server.api.rotateToken(to: "token-2")
        try write("token-2\n", to: tokenFile)
        let node = try client.get("/api/v1/nodes/n2")
        #expect(node.value(at: "metadata", "name")?.string == "n2")
        #expect(server.api.requests.map(\.authorization) == ["Bearer token-1", "Bearer token-1", "Bearer token-2"])
        // A token the server never accepts: one retry, then the 401 is the answer.
        server.api.rotateToken(to: "token-3")
        let error = try #require(throws: KubeError.self) { try client.get("/api/v1/nodes/n3") }
        #expect(error.isUnauthorized)
        #expect(server.api.requests.count == 5)
    }

    @Test func aFixedTokenIsNotRetriedAfterA401() throws {
        let server = try FakeAPIServer(token: "good-token")
        defer { server.stop() }
        let client = try KubeClient(config: server.config(token: "bad-token"))
        let error = try #require(throws: KubeError.self) { try client.get("/api/v1/nodes/n1") }
        #expect(error.isUnauthorized)
        #expect(error.message == "Unauthorized")
        #expect(server.api.requests.count == 1)
    }

    /// The token file is re-read once its refresh interval has passed, without any 401.
    @Test func theTokenFileIsRereadPeriodically() throws {
        let server = try FakeAPIServer(token: nil)
        defer { server.stop() }
        let directory = try temporaryDirectory()
        try write("a", to: "\(directory)/token")
        var options = KubeClient.Options()
        options.tokenRefreshInterval = .seconds(1)
        let created = Deadline.now()
        let client = try KubeClient(config: server.config(tokenFile: "\(directory)/token"), options: options)
        _ = try client.get("/api/v1/nodes/n1")
        try write("b", to: "\(directory)/token")
        _ = try client.get("/api/v1/nodes/n1")
        // Whether that call came within the interval (on a machine busy with parallel tests it may not).
        let secondCallWithinInterval = seconds(since: created) < 1
        // Once the interval has passed, a call reads the file again.
        try waitUntil("a call with the rewritten token", timeout: 10, interval: 0.05) {
            _ = try client.get("/api/v1/nodes/n1")
            return server.api.requests.last?.authorization == "Bearer b"
        }
        let sent = server.api.requests.map(\.authorization)
        if secondCallWithinInterval {
            #expect(Array(sent.prefix(2)) == ["Bearer a", "Bearer a"], "within the interval: still the cached token")
        }
        // Only after the first call with the new token, and then for good.
        let switched = try #require(sent.firstIndex(of: "Bearer b"))
        #expect(switched >= 1)
        #expect(sent == Array(repeating: "Bearer a", count: switched) + Array(repeating: "Bearer b", count: sent.count - switched), "\(sent)")
    }

    @Test func keepAliveConnectionsAreReused() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        let client = try KubeClient(config: server.config())
        for _ in 0..<20 { _ = try client.get("/api/v1/nodes/n1") }
        #expect(client.connectionsOpened == 1)
        #expect(server.api.connectionsAccepted == 1)
        // Parallel callers each take a connection; afterwards the pool keeps at most its limit.
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<5 { _ = try? client.get("/api/v1/nodes/n2") }
        }
        #expect(server.api.requests.count == 60)
        #expect(client.connectionsOpened <= 8)
        #expect(server.api.connectionsAccepted == client.connectionsOpened)
    }

    @Test func connectionCloseIsNotReused() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        let client = try KubeClient(config: server.config())
        _ = try client.get("/closing")
        _ = try client.get("/closing")
        #expect(client.connectionsOpened == 2)
    }

    /// Counts the connections a server holds open, so a test can wait for it to close one.
    final class OpenConnections: HTTPServerObserver {
        let open = Atomic<Int>(0)
        func connectionsChanged(by delta: Int) { open.add(delta, ordering: .relaxed) }
    }

    /// A fake API server that closes connections idle for 300 ms, the count of connections it holds
    /// open, and a client of it. The caller shuts the server down.
    static func idleClosingServer() throws -> (server: HTTPServer, open: OpenConnections, client: KubeClient) {
        signal(SIGPIPE, SIG_IGN)  // as the webhook does at start: a write to a closed socket is an error, not a signal
        let certificates = try TestCertificates()
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.idleTimeout = .milliseconds(300)
        configuration.eventLoopCount = 1
        let api = FakeAPIServer.API(validToken: nil)
        try api.seed(fixture: "list-nodes.json", collection: "/api/v1/nodes")
        let connections = OpenConnections()
        let server = try HTTPServer(
            configuration: configuration, tls: TLSContextSource(try certificates.serverContext()), handler: api, observer: connections,
            logger: .init(label: "t"))
        server.start()
        let client = try KubeClient(config: KubeConfig(host: "127.0.0.1", port: server.port, certificateAuthorityPEM: certificates.ca.certificatePEM))
        return (server, connections, client)
    }

    /// The server closes idle connections; the next call notices and reconnects once, invisibly.
    @Test func aConnectionClosedWhileIdleIsReplaced() throws {
        let (server, connections, client) = try Self.idleClosingServer()
        defer { server.shutdown() }
        _ = try client.get("/api/v1/nodes/n1")
        try waitUntil("the server to close the idle connection", timeout: 10) { connections.open.load(ordering: .relaxed) == 0 }
        _ = try client.get("/api/v1/nodes/n1")
        #expect(client.connectionsOpened == 2)
    }

    /// Warming the pool opens the connections it lacks, in parallel, and nothing when it is full; idle
    /// connections the server has closed since are noticed (no request needed) and replaced.
    @Test func warmingThePoolOpensWhatIsMissingAndReplacesWhatTheServerClosed() throws {
        let (server, connections, client) = try Self.idleClosingServer()
        defer { server.shutdown() }
        #expect(client.warmUp(to: 4, deadline: deadline(10)) == 4)
        #expect(client.connectionsOpened == 4)
        #expect(client.warmUp(to: 4, deadline: deadline(10)) == 0, "the pool is full")
        try waitUntil("the server to close the idle connections", timeout: 10) { connections.open.load(ordering: .relaxed) == 0 }
        #expect(client.warmUp(to: 4, deadline: deadline(10)) == 4, "the closed ones are replaced")
        #expect(client.connectionsOpened == 8)
        #expect(client.warmUp(to: 100, deadline: deadline(10)) == 28, "never more than the pool keeps (32)")
    }

    /// A slow server: the call fails at its deadline, not when the server finally answers (60 s) nor at
    /// the default request timeout (30 s). The upper bound (15 s) tells those apart with room for a machine
    /// busy with the tests running in parallel; it is no claim about speed. The lower bound holds under
    /// any load: the call may not give up before its deadline.
    @Test func aSlowServerFailsAtTheDeadline() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        server.api.setDelay(seconds: 60)
        let client = try KubeClient(config: server.config())
        let start = Deadline.now()
        let error = try #require(throws: KubeError.self) { try client.get("/api/v1/nodes/n1", deadline: deadline(0.3)) }
        let elapsed = seconds(since: start)
        #expect(error.code == .timeout)
        #expect(error.isRetryable)
        #expect(elapsed >= 0.29 && elapsed < 15, "took \(elapsed) s")

        var options = KubeClient.Options()
        options.requestTimeout = .milliseconds(200)
        let impatient = try KubeClient(config: server.config(), options: options)
        let t0 = Deadline.now()
        #expect(throws: KubeError(.timeout, "")) { try impatient.get("/api/v1/nodes/n1") }
        let impatientElapsed = seconds(since: t0)
        #expect(impatientElapsed >= 0.19 && impatientElapsed < 15, "took \(impatientElapsed) s")
    }

    @Test func connectionRefusedIsAConnectError() throws {
        // Bind and close a port so nothing listens there.
        let server = try FakeAPIServer()
        let config = server.config()
        server.stop()
        let client = try KubeClient(config: config)
        let error = try #require(throws: KubeError.self) { try client.get("/api/v1/nodes", deadline: deadline(2)) }
        #expect(error.code == .connect)
        #expect(error.isRetryable)
        #expect(error.message.contains("cannot reach the API server at 127.0.0.1:\(config.port)"))
    }

    @Test func anUntrustedServerCertificateIsAConnectError() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        var config = server.config()
        config.certificateAuthorityPEM = try CertificateGenerator.makeCA(commonName: "other CA").certificatePEM
        let client = try KubeClient(config: config)
        let error = try #require(throws: KubeError.self) { try client.get("/api/v1/nodes") }
        #expect(error.code == .connect)
        #expect(error.message.contains("certificate"))
        // insecure-skip-tls-verify connects anyway (only ever because the kubeconfig said so).
        config.insecureSkipTLSVerify = true
        #expect(try KubeClient(config: config).get("/api/v1/nodes/n1").value(at: "metadata", "name") == "n1")
    }

    /// The recorded patches: adding an annotation, then removing it with `null`.
    @Test func mergePatchAddsAndRemovesAnAnnotation() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        let client = try KubeClient(config: server.config())
        let path = "/api/v1/namespaces/store/pods/db-2"
        let before = try client.get(path)
        let added = try client.patch(path, mergePatch: ["metadata": ["annotations": ["emm-failure": "NotEnoughResources"]]])
        #expect(added.value(at: "metadata", "annotations", "emm-failure") == "NotEnoughResources")
        #expect(added.value(at: "metadata", "resourceVersion") != before.value(at: "metadata", "resourceVersion"))
        #expect(server.api.requests.last?.contentType == "application/merge-patch+json")
        // What the real server answered has the same annotations.
        let recorded = try JSON.parse(Array(try fixtureData("patch-pod-merge.json")))
        #expect(added.value(at: "metadata", "annotations") == recorded.value(at: "metadata", "annotations"))
        #expect(added["spec"] == recorded["spec"])

        let removed = try client.patch(path, mergePatch: ["metadata": ["annotations": ["emm-failure": nil]]])
        #expect(removed.value(at: "metadata", "annotations", "emm-failure") == nil)
        let recordedRemoval = try JSON.parse(Array(try fixtureData("patch-pod-remove.json")))
        #expect(removed.value(at: "metadata", "annotations") == recordedRemoval.value(at: "metadata", "annotations"))
        #expect(server.api.object(path)?.value(at: "metadata", "annotations", "emm-failure") == nil)
    }

    @Test func patchingAMissingPodIsNotFound() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        let client = try KubeClient(config: server.config())
        let error = try #require(throws: KubeError.self) {
            try client.patch("/api/v1/namespaces/store/pods/nope", mergePatch: ["metadata": ["annotations": ["a": "b"]]])
        }
        #expect(error.isNotFound)
        #expect(error.message == "pods \"nope\" not found")
    }

    /// The recorded Lease create, then the same create again: AlreadyExists.
    @Test func createThenAlreadyExists() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        let client = try KubeClient(config: server.config())
        let recorded = try JSON.parse(Array(try fixtureData("create-lease.json")))
        let lease: JSON = [
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": ["name": recorded.value(at: "metadata", "name")!, "namespace": "default"],
            "spec": recorded["spec"]!,
        ]
        let collection = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
        let created = try client.create(collection, lease)
        #expect(created.value(at: "metadata", "resourceVersion")?.string?.isEmpty == false)
        #expect(created["spec"] == recorded["spec"])
        let error = try #require(throws: KubeError.self) { try client.create(collection, lease) }
        #expect(error.isAlreadyExists)
        #expect(!error.isConflict)
        #expect(error.httpStatus == 409)
        #expect(error.message == "leases.coordination.k8s.io \"\(recorded.value(at: "metadata", "name")!.string!)\" already exists")

        // An Event for a Node, as recorded.
        let event = try JSON.parse(Array(try fixtureData("create-event.json")))
        let createdEvent = try client.create("/api/v1/namespaces/default/events", event)
        #expect(createdEvent["reason"] == event["reason"])
    }

    /// PUT with the current resourceVersion succeeds; with a stale one it is a 409 Conflict.
    @Test func updateWithAStaleResourceVersionConflicts() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        let client = try KubeClient(config: server.config())
        let collection = "/apis/coordination.k8s.io/v1/namespaces/tmm-system/leases"
        let created = try client.create(collection, ["metadata": ["name": "tmm-webhook"], "spec": ["holderIdentity": "a"]])
        let path = "\(collection)/tmm-webhook"
        var mine = created
        mine = ["metadata": created["metadata"]!, "spec": ["holderIdentity": "b"]]
        let updated = try client.update(path, mine)
        #expect(updated.value(at: "spec", "holderIdentity") == "b")
        // `mine` still carries the old resourceVersion.
        let error = try #require(throws: KubeError.self) { try client.update(path, mine) }
        #expect(error.isConflict)
        #expect(!error.isAlreadyExists)
        #expect(error.message.hasPrefix("Operation cannot be fulfilled on leases.coordination.k8s.io \"tmm-webhook\""))
        // Re-read, then the update goes through.
        let fresh = try client.get(path)
        let again = try client.update(path, ["metadata": fresh["metadata"]!, "spec": ["holderIdentity": "c"]])
        #expect(again.value(at: "spec", "holderIdentity") == "c")
    }

    @Test func permissionsTable() {
        let rules = KubePermissions.rules
        #expect(Set(rules).count == rules.count)
        #expect(rules.contains(.init(verb: "patch", group: "", resource: "pods", ownNamespaceOnly: false)))
        #expect(rules.filter { $0.ownNamespaceOnly }.map(\.resource) == ["leases", "leases", "leases"])
        #expect(!rules.contains { $0.verb == "delete" })
        #expect(rules.count == 21)
    }

    /// A raw GET on a fresh connection, to look at the wire.
    func rawGET(_ server: FakeAPIServer, _ target: String, acceptGzip: Bool) throws -> HTTPClientConnection.Response {
        let connection = try TLSClientConnection(
            host: "127.0.0.1", port: server.port, context: try server.certificates.clientContext(), deadline: deadline(5))
        let http = HTTPClientConnection(connection)
        var headers = [("Authorization", "Bearer good-token")]
        if acceptGzip { headers.append(("Accept-Encoding", "gzip")) }
        try http.send(method: "GET", target: target, host: "127.0.0.1", headers: headers, deadline: deadline(5))
        defer { connection.close() }
        return try http.readResponse(deadline: deadline(5))
    }
}
