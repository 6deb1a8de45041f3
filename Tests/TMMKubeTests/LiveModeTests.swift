import TMMTestSupport
import Foundation
import Logging
import Synchronization
import Testing
@testable import TMMApp
import TMMAdmission
import TMMJSON
import TMMKube
import TMMPolicy
import TMMTransport

/// The webhook's live mode against the fake API server: the watch cache, the freshness check, the
/// Lease shared by replicas, annotations patched before the answer, Events, the reconciler.
@Suite(.serialized) struct LiveModeTests {
    static func quiet() -> Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }

    /// A decider on its own client and cache, synced with the fake server.
    static func replica(_ fake: FakeAPIServer, name: String = "replica-a", settings: (inout LiveEntryDecider.Settings) -> Void = { _ in })
        throws -> LiveEntryDecider
    {
        let client = try KubeClient(config: fake.config())
        let cache = ClusterCache(
            client: client, keptAnnotationKeys: ["emm-failure", PodAnnotator.writtenAtKey], logger: quiet(), pageSize: 2,
            watchTimeoutSeconds: 60)
        var s = LiveEntryDecider.Settings()
        s.namespace = "tmm-system"
        s.podName = name
        settings(&s)
        let decider = LiveEntryDecider(cache: cache, config: .default, settings: s, logger: quiet(), metrics: nil)
        cache.start()
        let end = Date().addingTimeInterval(10)
        while !cache.isSynced && Date() < end { usleep(10_000) }
        try #require(cache.isSynced, "the cache did not sync: \(cache.syncDescription)")
        return decider
    }

    static func fake() throws -> FakeAPIServer {
        let fake = try FakeAPIServer()
        // Watches stay open and quiet (the fake does not generate events from its changes).
        fake.api.setWatchScript([.pause(milliseconds: 60_000)])
        return fake
    }

    static func entry(_ node: String, uid: String, dryRun: Bool = false, deadline seconds: Double = 5) -> EntryRequest {
        var request = AdmissionRequest(apiVersion: "admission.k8s.io/v1", uid: uid)
        request.kind = "Node"
        request.operation = "UPDATE"
        request.name = node
        request.dryRun = dryRun
        request.newTaints = [Taint(key: "drain", value: "planned-downtime", effect: "NoSchedule")]
        return EntryRequest(request: request, transition: .enter(.plannedDowntime), deadline: deadline(seconds))
    }

    static func annotation(_ fake: FakeAPIServer, pod: String) -> String? {
        fake.api.object("/api/v1/namespaces/store/pods/\(pod)")?.value(at: "metadata", "annotations")?["emm-failure"]?.string
    }

    static func leaseEntries(_ fake: FakeAPIServer) -> [String: Int64] {
        guard let lease = fake.api.object("/apis/coordination.k8s.io/v1/namespaces/tmm-system/leases/tmm-webhook-entries") else {
            return [:]
        }
        return EntryLedger.entries(of: lease, now: 0)
    }

    @Test func syncsThroughPagedListsAndAdmitsAnEntryRecordingItInTheLease() throws {
        let fake = try Self.fake()
        defer { fake.stop() }
        let decider = try Self.replica(fake)
        defer { decider.cache.stop() }
        let counts = decider.cache.withState { state, _ in (state.nodeCount, state.podCount, state.budgetCount) }
        #expect(counts == (3, 3, 1))
        #expect(fake.api.requests.contains { $0.target.contains("/api/v1/pods?limit=2&continue=") }, "pods were listed in pages")

        let first = decider.decideNow(Self.entry("n2", uid: "u1"))
        #expect(first.allowed, "\(first.message ?? "")")
        #expect(Self.leaseEntries(fake)["n2"] != nil)
        usleep(500_000)  // Events are posted in the background
        #expect(fake.api.requests.contains { $0.method == "POST" && $0.target == "/api/v1/namespaces/default/events" })
        let event = fake.api.objects(under: "/api/v1/namespaces/default/events").first
        #expect(event?["reason"]?.string == "MaintenanceAdmitted")
        #expect(event?["type"]?.string == "Normal")
        #expect(event?.value(at: "involvedObject", "kind")?.string == "Node")
        #expect(event?.value(at: "involvedObject", "name")?.string == "n2")
    }

    @Test func aDeniedEntryIsAnnotatedBeforeTheAnswerAndAnAdmittedOneClearsOldAnnotations() throws {
        let fake = try Self.fake()
        defer { fake.stop() }
        let decider = try Self.replica(fake)
        defer { decider.cache.stop() }
        #expect(decider.decideNow(Self.entry("n2", uid: "u1")).allowed)
        let denied = decider.decideNow(Self.entry("n3", uid: "u2"))
        #expect(!denied.allowed)
        #expect(denied.message?.hasPrefix("TooManyExistingFailures: ") == true, "\(denied.message ?? "")")
        // Patched on the API server by the time the decision returned.
        #expect(Self.annotation(fake, pod: "db-2") == "TooManyExistingFailures")
        #expect(Self.annotation(fake, pod: "db-1") == nil)
        let at = fake.api.object("/api/v1/namespaces/store/pods/db-2")?.value(at: "metadata", "annotations")?[PodAnnotator.writtenAtKey]?.string
        #expect(at.flatMap { Int64($0) } != nil)
        let patches = fake.api.requests.filter { $0.method == "PATCH" }
        #expect(patches.allSatisfy { $0.contentType == "application/merge-patch+json" })

        // n2 leaves maintenance: its entry leaves the Lease only by expiry, so give n3 a fresh ledger.
        try clearLease(fake)
        var exit = AdmissionRequest(apiVersion: "admission.k8s.io/v1", uid: "u3")
        exit.name = "n2"
        let done = DispatchSemaphore(value: 0)
        decider.exited(exit, deadline: deadline(5)) { done.signal() }
        done.wait()
        let again = decider.decideNow(Self.entry("n3", uid: "u4"))
        #expect(again.allowed, "\(again.message ?? "")")
        #expect(Self.annotation(fake, pod: "db-2") == nil, "the old failure on n3's pod is removed when its entry is admitted")
    }

    @Test func dryRunsReadButWriteNothing() throws {
        let fake = try Self.fake()
        defer { fake.stop() }
        let decider = try Self.replica(fake)
        defer { decider.cache.stop() }
        #expect(decider.decideNow(Self.entry("n2", uid: "u1", dryRun: true)).allowed)
        #expect(Self.leaseEntries(fake).isEmpty)
        #expect(decider.decideNow(Self.entry("n2", uid: "u2")).allowed)
        usleep(500_000)  // the admitted entry's Event is posted in the background
        let writes = fake.api.requests.count { $0.method != "GET" }
        #expect(!decider.decideNow(Self.entry("n3", uid: "u3", dryRun: true)).allowed)
        usleep(500_000)
        #expect(fake.api.requests.count { $0.method != "GET" } == writes, "a dry run patches, creates and updates nothing")
        #expect(Self.annotation(fake, pod: "db-2") == nil)
    }

    /// Two replicas, two nodes, one slot, at the same moment: exactly one admission, every time.
    @Test func twoReplicasRacingForTheLastSlotAdmitExactlyOne() throws {
        let fake = try Self.fake()
        defer { fake.stop() }
        let a = try Self.replica(fake, name: "replica-a")
        let b = try Self.replica(fake, name: "replica-b")
        defer {
            a.cache.stop()
            b.cache.stop()
        }
        for round in 0..<15 {
            try clearLease(fake)
            let results = Mutex<[String: Bool]>([:])
            let group = DispatchGroup()
            for (decider, node) in [(a, "n1"), (b, "n3")] {
                DispatchQueue.global().async(group: group) {
                    let decision = decider.decideNow(Self.entry(node, uid: "\(node)-\(round)"))
                    results.withLock { $0[node] = decision.allowed }
                }
            }
            group.wait()
            let allowed = results.withLock { $0 }.filter(\.value).map(\.key)
            #expect(allowed.count == 1, "round \(round): admitted \(allowed)")
            #expect(Set(Self.leaseEntries(fake).keys) == Set(allowed), "round \(round)")
        }
    }

    @Test func anUnreachableOrSlowAPIServerFailsClosedByTheDeadline() throws {
        let fake = try Self.fake()
        let decider = try Self.replica(fake)
        defer { decider.cache.stop() }
        fake.api.setDelay(seconds: 3)
        var start = Date()
        let slow = decider.decideNow(Self.entry("n2", uid: "u1", deadline: 1.5))
        #expect(!slow.allowed)
        #expect(slow.message?.hasPrefix("GenericFailure: ") == true, "\(slow.message ?? "")")
        #expect(Date().timeIntervalSince(start) < 2.5)
        fake.api.setDelay(seconds: 0)
        fake.stop()
        start = Date()
        let down = decider.decideNow(Self.entry("n2", uid: "u2", deadline: 2))
        #expect(!down.allowed)
        #expect(down.message?.hasPrefix("GenericFailure: ") == true)
        #expect(Date().timeIntervalSince(start) < 2.5)
    }

    @Test func theReconcilerRemovesStaleAnnotationsOnlyWhenTheNodeIsBackAndTheGraceHasPassed() throws {
        let fake = try Self.fake()
        defer { fake.stop() }
        let old = String(Int64(Date().timeIntervalSince1970) - 3600)
        let recent = String(Int64(Date().timeIntervalSince1970))
        for (pod, at) in [("db-0", old), ("db-1", recent)] {
            try annotate(fake, pod: pod, value: "TooManyExistingFailures", at: at)
        }
        let decider = try Self.replica(fake) { $0.annotationGrace = .seconds(600) }
        defer { decider.cache.stop() }
        #expect(decider.reconcile() == 1)
        #expect(Self.annotation(fake, pod: "db-0") == nil)
        #expect(Self.annotation(fake, pod: "db-1") == "TooManyExistingFailures", "younger than the grace period: kept")
        #expect(decider.reconcile() == 0)
    }

    func clearLease(_ fake: FakeAPIServer) throws {
        let client = try KubeClient(config: fake.config())
        let path = "/apis/coordination.k8s.io/v1/namespaces/tmm-system/leases/tmm-webhook-entries"
        guard fake.api.object(path) != nil else { return }
        let patch: JSON = ["metadata": ["annotations": [EntryLedger.annotation: "{}"]]]
        _ = try client.patch(path, mergePatch: patch)
    }

    func annotate(_ fake: FakeAPIServer, pod: String, value: String, at: String) throws {
        let client = try KubeClient(config: fake.config())
        let patch: JSON = ["metadata": ["annotations": ["emm-failure": .string(value), .init(stringLiteral: PodAnnotator.writtenAtKey): .string(at)]]]
        _ = try client.patch("/api/v1/namespaces/store/pods/\(pod)", mergePatch: patch)
    }

    /// Through the HTTPS server: the denied entry's pods carry the annotation by the time the answer
    /// arrives, and a non-entry update is answered while the API server is slow.
    @Test func overHTTPSTheAnnotationIsThereBeforeTheAnswer() throws {
        let fake = try Self.fake()
        defer { fake.stop() }
        let decider = try Self.replica(fake)
        defer { decider.cache.stop() }
        let certificates = try TestCertificates()
        let handler = WebhookHandler(reviewer: AdmissionReviewer(decider: decider, logger: Self.quiet()), readiness: Readiness())
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.eventLoopCount = 1
        let server = try HTTPServer(
            configuration: configuration, tls: TLSContextSource(try certificates.serverContext()), handler: handler, logger: Self.quiet())
        server.start()
        defer { server.shutdown() }
        let client = HTTPClientConnection(
            try TLSClientConnection(host: "127.0.0.1", port: server.port, context: try certificates.clientContext(), deadline: deadline(5)))
        func review(_ node: String, uid: String, taint: Bool) throws -> JSON {
            let taints = taint ? #"[{"key":"drain","value":"planned-downtime","effect":"NoSchedule"}]"# : "[]"
            let body = #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"\#(uid)","kind":{"group":"","version":"v1","kind":"Node"},"operation":"UPDATE","name":"\#(node)","dryRun":false,"object":{"spec":{"taints":\#(taints)}},"oldObject":{"spec":{}}}}"#
            try client.send(
                method: "POST", target: "/validate?timeout=5s", host: "x", headers: [("Content-Type", "application/json")],
                body: Array(body.utf8), deadline: deadline(6))
            return try JSON.parse(try client.readResponse(deadline: deadline(6)).body)
        }
        #expect(try review("n2", uid: "a", taint: true)["response"]?["allowed"]?.bool == true)
        let denied = try review("n3", uid: "b", taint: true)
        #expect(denied["response"]?["allowed"]?.bool == false)
        #expect(Self.annotation(fake, pod: "db-2") == "TooManyExistingFailures")
        // A label change is answered from memory, without waiting on a slow API server.
        fake.api.setDelay(seconds: 3)
        let start = Date()
        #expect(try review("n1", uid: "c", taint: false)["response"]?["allowed"]?.bool == true)
        #expect(Date().timeIntervalSince(start) < 0.5)
        fake.api.setDelay(seconds: 0)
    }

    @Test func aRefusedPolicyIsReportedAsAnEventOnItsConfigMap() throws {
        let fake = try Self.fake()
        defer { fake.stop() }
        let decider = try Self.replica(fake)
        defer { decider.cache.stop() }
        decider.policyRejected("line 2: maxNodesInMaintenance: not an integer", configMap: "tmm-webhook-policy")
        usleep(500_000)
        let event = fake.api.objects(under: "/api/v1/namespaces/tmm-system/events").first
        #expect(event?["reason"]?.string == "PolicyRejected")
        #expect(event?["type"]?.string == "Warning")
        #expect(event?.value(at: "involvedObject", "kind")?.string == "ConfigMap")
        #expect(event?.value(at: "involvedObject", "name")?.string == "tmm-webhook-policy")
    }
}
