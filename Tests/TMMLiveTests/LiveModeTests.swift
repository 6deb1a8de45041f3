import TMMBase
import TMMTestSupport
import Foundation
import Logging
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

    /// One replica: the pipeline over the API server's backend, its cache synced with the fake server.
    struct Replica {
        var backend: LiveBackend
        var pipeline: EntryPipeline<LiveBackend>
        var cache: WatchCache<ClusterStore> { backend.cache }
        func decideNow(_ entry: EntryRequest) -> AdmissionDecision { pipeline.decideNow(entry) }
        func stop() { backend.cache.stop() }
    }

    static func replica(_ fake: FakeAPIServer, name: String = "replica-a", quietAfter: Duration? = nil) throws -> Replica {
        let client = try KubeClient(config: fake.config())
        var s = LiveBackend.Settings()
        s.namespace = "tmm-system"
        s.podName = name
        var cacheSettings = WatchCache<ClusterStore>.Settings()
        cacheSettings.pageSize = 2
        cacheSettings.watchTimeoutSeconds = 60
        if let quietAfter { cacheSettings.quietAfter = quietAfter }
        let backend = LiveBackend(client: client, config: .default, settings: s, cacheSettings: cacheSettings, logger: quiet())
        let pipeline = EntryPipeline(backend: backend, config: .default, logger: quiet(), metrics: nil)
        backend.cache.start()
        try waitUntil("the cache syncs (\(backend.cache.syncDescription))", timeout: 10) { backend.cache.isSynced }
        return Replica(backend: backend, pipeline: pipeline)
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

    static func leaseEntries(_ fake: FakeAPIServer) -> [String: EntryLedger.Entry] {
        guard let lease = fake.api.object("/apis/coordination.k8s.io/v1/namespaces/tmm-system/leases/tmm-webhook-entries") else {
            return [:]
        }
        return EntryLedger.entries(of: lease)
    }

    static let maintenanceTaint: JSON = ["key": "drain", "value": "planned-downtime", "effect": "NoSchedule"]

    /// A watch event for node `name` with `taints`, at `resourceVersion`, applied to the replica's cache
    /// as its watch would, and the resulting transitions handed on.
    static func watchShows(_ replica: Replica, node name: String, tainted: Bool, resourceVersion: Int) throws {
        let taints: JSON = tainted ? [Self.maintenanceTaint] : []
        let node: JSON = [
            "kind": "Node", "apiVersion": "v1",
            "metadata": ["name": .string(name), "resourceVersion": .string(String(resourceVersion)), "labels": ["kubernetes.io/hostname": .string(name)]],
            "spec": ["taints": taints],
            "status": ["conditions": [["type": "Ready", "status": "True"]], "allocatable": ["cpu": "4", "memory": "8Gi", "pods": "110"]],
        ]
        try replica.cache.withStore { store, _ in try store.apply(.nodes, event: KubeWatchEvent(type: .modified, object: node)) }
        replica.backend.deliverTransitions()
        replica.pipeline.drain()
    }

    @Test func syncsThroughPagedListsAndAdmitsAnEntryRecordingItInTheLease() throws {
        let fake = try Self.fake()
        defer { fake.stop() }
        let decider = try Self.replica(fake)
        defer { decider.cache.stop() }
        let counts = decider.cache.withStore { store, _ in (store.cluster.nodeCount, store.cluster.podCount, store.cluster.budgetCount) }
        #expect(counts == (3, 3, 1))
        #expect(fake.api.requests.contains { $0.target.contains("/api/v1/pods?limit=2&continue=") }, "pods were listed in pages")

        let first = decider.decideNow(Self.entry("n2", uid: "u1"))
        #expect(first.allowed, "\(first.message ?? "")")
        let recorded = try #require(Self.leaseEntries(fake)["n2"])
        let nodeVersion = decider.cache.withStore { store, _ in store.version(ofNode: "n2") }
        #expect(recorded.resourceVersion == nodeVersion && nodeVersion > 0, "the node's version when admitted")
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        #expect(recorded.expires > now && recorded.expires <= now + 11_000, "the request's 5 s deadline plus the margin")
        // Events are posted in the background. Waited for as stored: the fake records a request before it
        // answers it, and a busy machine once read the events in between.
        try waitUntil("the Event", timeout: 5) { !fake.api.objects(under: "/api/v1/namespaces/default/events").isEmpty }
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

        // A request claiming n3 left maintenance proves nothing: the annotation stays.
        var exit = AdmissionRequest(apiVersion: "admission.k8s.io/v1", uid: "u3")
        exit.name = "n3"
        decider.pipeline.exitAnswered(exit)
        decider.pipeline.drain()
        #expect(Self.annotation(fake, pod: "db-2") == "TooManyExistingFailures", "a forged exit removes nothing")

        // The watch shows n2 enter and then leave: its pending entry is resolved, the slot is free again.
        try Self.watchShows(decider, node: "n2", tainted: true, resourceVersion: 1001)
        try Self.watchShows(decider, node: "n2", tainted: false, resourceVersion: 1002)
        let again = decider.decideNow(Self.entry("n3", uid: "u4"))
        #expect(again.allowed, "rolling maintenance: n3 right after n2 left: \(again.message ?? "")")
        // The old failure on n3's pod goes only when the watch shows n3 actually enter.
        #expect(Self.annotation(fake, pod: "db-2") == "TooManyExistingFailures")
        try Self.watchShows(decider, node: "n3", tainted: true, resourceVersion: 1003)
        #expect(Self.annotation(fake, pod: "db-2") == nil, "the old failure on n3's pod is removed once its admitted entry shows")
    }

    /// A node seen leaving maintenance loses its pods' failure annotations, whatever requests said.
    @Test func theWatchShowingAnExitClearsTheAnnotations() throws {
        let fake = try Self.fake()
        defer { fake.stop() }
        let decider = try Self.replica(fake)
        defer { decider.stop() }
        try Self.watchShows(decider, node: "n3", tainted: true, resourceVersion: 1001)
        // A denial's annotation, as the pipeline writes it (the API server and the cache both show it).
        let pod = PodRef(namespace: "store", name: "db-2")
        #expect(decider.backend.annotate([pod], key: "emm-failure", value: "TooManyExistingFailures", deadline: deadline(5)).patched == 1)
        #expect(Self.annotation(fake, pod: "db-2") == "TooManyExistingFailures")
        try Self.watchShows(decider, node: "n3", tainted: false, resourceVersion: 1002)
        #expect(Self.annotation(fake, pod: "db-2") == nil)
    }

    static let probe = "__tmm_resource_version_probe__"

    /// Sets node `name`'s taints on the API server itself (the fake makes no watch event of it).
    static func taintAtSource(_ fake: FakeAPIServer, node name: String, tainted: Bool) throws {
        let taints: JSON = tainted ? [Self.maintenanceTaint] : []
        let client = try KubeClient(config: fake.config())
        defer { client.close() }
        _ = try client.patch("/api/v1/nodes/\(name)", mergePatch: ["spec": ["taints": taints]], deadline: deadline(5))
    }

    /// n2 in maintenance, on the API server and in the cache: n3's refusal is confirmed by reading n3 and
    /// n2 at the source, and answered without waiting for the freshness check.
    @Test func aRefusalBorneOutAtTheSourceSkipsTheFreshnessCheck() throws {
        let fake = try Self.fake()
        defer { fake.stop() }
        // A quiet wait of 10 s: an entry that waited for it could not be answered within its 5 s deadline.
        let decider = try Self.replica(fake, quietAfter: .seconds(10))
        defer { decider.stop() }
        try Self.taintAtSource(fake, node: "n2", tainted: true)
        try Self.watchShows(decider, node: "n2", tainted: true, resourceVersion: 1001)
        let started = Deadline.now()
        let denied = decider.decideNow(Self.entry("n3", uid: "u1"))
        let took = Deadline.now() - started
        #expect(!denied.allowed && denied.reason == .tooManyExistingFailures, "\(denied.message ?? "")")
        #expect(took < .seconds(2), "answered without the 10 s quiet wait: \(took)")
        #expect(Self.annotation(fake, pod: "db-2") == "TooManyExistingFailures", "annotated before the answer all the same")
        let targets = fake.api.requests.map(\.target)
        #expect(targets.contains("/api/v1/nodes/n2") && targets.contains("/api/v1/nodes/n3"), "both read at the source")
    }

    /// The cache shows n2 in maintenance and refuses n3, but the source does not bear that out, so the
    /// entry waits out the freshness check (500 ms of quiet here) before it is answered: n3 is already in
    /// maintenance at the source (then the entry would be a no-op), n2 cannot be read, or n2 is out at the
    /// source and not pending.
    @Test(arguments: ["target already in maintenance", "n2 unreadable", "n2 out and not pending"])
    func aRefusalTheSourceDoesNotBearOutWaitsForTheFreshnessCheck(_ situation: String) throws {
        let fake = try Self.fake()
        defer { fake.stop() }
        let decider = try Self.replica(fake, quietAfter: .milliseconds(500))
        defer { decider.stop() }
        try Self.watchShows(decider, node: "n2", tainted: true, resourceVersion: 1001)
        // Each situation writes at the source, so the freshness check cannot pass before its quiet time.
        switch situation {
        case "target already in maintenance":
            try Self.taintAtSource(fake, node: "n2", tainted: true)
            try Self.taintAtSource(fake, node: "n3", tainted: true)
        case "n2 unreadable":
            try Self.taintAtSource(fake, node: "n2", tainted: true)
            fake.api.fail(under: "/api/v1/nodes/n2", status: 500)
        default:
            try Self.taintAtSource(fake, node: "n2", tainted: false)
        }
        let started = Deadline.now()
        let decision = decider.decideNow(Self.entry("n3", uid: "u1"))
        let took = Deadline.now() - started
        // The cache never shows otherwise, so the current decision refuses too; what matters is the wait.
        #expect(!decision.allowed && decision.reason == .tooManyExistingFailures, "\(decision.message ?? "")")
        #expect(took >= .milliseconds(450), "not confirmed, so the quiet wait was waited out: \(took)")
        #expect(fake.api.requests.contains { $0.target == "/api/v1/nodes/n3" }, "the source was asked")
    }

    /// Rolling maintenance with the watch behind: the cache still shows n2 in maintenance, but the API
    /// server has it out already. The refusal is not borne out at the source, so n3 waits for a current
    /// cache, which by then shows n2's exit: admitted, and nothing annotated.
    @Test func aRefusalTheSourceContradictsWaitsForTheWatchAndIsAdmitted() throws {
        let fake = try Self.fake()
        defer { fake.stop() }
        // 800 ms of quiet (the freshness wait is 1 s): room for a slow machine to show the exit in time.
        let decider = try Self.replica(fake, quietAfter: .milliseconds(800))
        defer { decider.stop() }
        try Self.watchShows(decider, node: "n2", tainted: true, resourceVersion: 1001)
        // n2 leaves at the source (a write: the API server's revision moves past what the cache has seen,
        // so the freshness check must wait out its quiet time), and that exit reaches the watch just after
        // the confirmation read n2, well inside the quiet wait.
        try Self.taintAtSource(fake, node: "n2", tainted: false)
        let exitShown = startThread(name: "test-exit") {
            try? waitUntil("the confirmation reads n2", timeout: 10) { fake.api.requests.contains { $0.target == "/api/v1/nodes/n2" } }
            try? Self.watchShows(decider, node: "n2", tainted: false, resourceVersion: 1002)
        }
        let started = Deadline.now()
        let decision = decider.decideNow(Self.entry("n3", uid: "u1"))
        let took = Deadline.now() - started
        exitShown.join()
        #expect(decision.allowed, "\(decision.message ?? "")")
        #expect(Self.annotation(fake, pod: "db-2") == nil, "no false annotation")
        #expect(took >= .milliseconds(750), "the freshness check's quiet wait was waited out: \(took)")
        #expect(fake.api.requests.contains { $0.target.contains(Self.probe) })
    }

    /// A refusal retried soon after (vSphere retries every few seconds) leaves the pods that already carry
    /// its reason alone; another reason, or a written-at time older than the refresh interval, is written.
    @Test func aRetriedRefusalDoesNotRewriteTheSameReason() throws {
        let fake = try Self.fake()
        defer { fake.stop() }
        let decider = try Self.replica(fake)
        defer { decider.stop() }
        let pods = [PodRef(namespace: "store", name: "db-2")]
        var timings: [AnnotationOutcome.Timing] = []
        /// The counts (the timing goes to `timings`).
        func annotate(_ reason: String) -> AnnotationOutcome {
            var outcome = decider.backend.annotate(pods, key: "emm-failure", value: reason, deadline: deadline(5))
            timings.append(outcome.timing)
            outcome.timing = .init()
            return outcome
        }
        func patches() -> Int { fake.api.requests.count { $0.method == "PATCH" } }
        #expect(annotate("TooManyExistingFailures") == AnnotationOutcome(patched: 1))
        let written = patches()
        #expect(annotate("TooManyExistingFailures") == AnnotationOutcome(unchanged: 1))
        #expect(patches() == written, "the same reason, just written: no write")
        #expect(annotate("NotEnoughResources") == AnnotationOutcome(patched: 1))
        #expect(Self.annotation(fake, pod: "db-2") == "NotEnoughResources")
        // As if written three minutes ago: past the 2 minute refresh, written again (a new written-at time).
        decider.cache.withStore { store, _ in
            _ = store.cluster.setAnnotation(
                namespace: "store", pod: "db-2", key: PodAnnotator.writtenAtKey, value: String(Int64(time(nil)) - 180))
        }
        #expect(annotate("NotEnoughResources") == AnnotationOutcome(patched: 1))
        #expect(patches() == written + 2)
        // A write has a duration; no write has none.
        #expect(timings.map { $0.slowest > .zero } == [true, false, true, true])
        #expect(timings.allSatisfy { $0.median <= $0.slowest && $0.retries == 0 })
    }

    /// A forged admitted entry for a node that never enters holds its slot only until its deadline and margin.
    @Test func anAdmittedEntryThatNeverShowsStopsCountingAfterItsDeadline() throws {
        let fake = try Self.fake()
        defer { fake.stop() }
        let decider = try Self.replica(fake)
        defer { decider.stop() }
        #expect(decider.decideNow(Self.entry("n2", uid: "u1", deadline: 1)).allowed)
        #expect(!decider.decideNow(Self.entry("n3", uid: "u2")).allowed, "n2 is pending")
        let expires = try #require(Self.leaseEntries(fake)["n2"]).expires
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        #expect(expires <= now + 1_000 + 5_500, "bounded by the request's deadline plus 5 s")
        // The cluster shows n2 updated after the admission without the taint: the entry was dropped.
        try Self.watchShows(decider, node: "n2", tainted: false, resourceVersion: 2000)
        #expect(decider.decideNow(Self.entry("n3", uid: "u3")).allowed)
    }

    @Test func dryRunsReadButWriteNothing() throws {
        let fake = try Self.fake()
        defer { fake.stop() }
        let decider = try Self.replica(fake)
        defer { decider.cache.stop() }
        #expect(decider.decideNow(Self.entry("n2", uid: "u1", dryRun: true)).allowed)
        #expect(Self.leaseEntries(fake).isEmpty)
        #expect(decider.decideNow(Self.entry("n2", uid: "u2")).allowed)
        // The admitted entry's Event is posted in the background.
        try waitUntil("the admitted entry's Event", timeout: 5) {
            fake.api.requests.contains { $0.method == "POST" && $0.target.hasSuffix("/events") }
        }
        let writes = fake.api.requests.count { $0.method != "GET" }
        #expect(!decider.decideNow(Self.entry("n3", uid: "u3", dryRun: true)).allowed)
        decider.pipeline.drain()
        #expect(fake.api.requests.count { $0.method != "GET" } == writes, "a dry run patches, creates and updates nothing")
        #expect(Self.annotation(fake, pod: "db-2") == nil)
    }

    /// The Lease is read while the freshness check waits; one that cannot be read (here: RBAC refuses it)
    /// fails the entry closed with the reason and records nothing, and the next entry is decided normally.
    @Test func aLeaseThatCannotBeReadFailsTheEntryClosed() throws {
        let fake = try Self.fake()
        defer { fake.stop() }
        let decider = try Self.replica(fake)
        defer { decider.cache.stop() }
        let leases = "/apis/coordination.k8s.io/v1/namespaces/tmm-system/leases"
        fake.api.fail(under: leases, status: 403)
        let refused = decider.decideNow(Self.entry("n2", uid: "u1"))
        #expect(!refused.allowed)
        let message = refused.message ?? ""
        #expect(message.hasPrefix("GenericFailure: ") && message.contains("cannot read the admitted-entries Lease"), "\(message)")
        #expect(!fake.api.requests.contains { $0.method != "GET" && $0.target.hasPrefix(leases) }, "nothing was written")
        fake.api.fail(under: leases, status: nil)
        let admitted = decider.decideNow(Self.entry("n2", uid: "u2"))
        #expect(admitted.allowed, "\(admitted.message ?? "")")
        #expect(Self.leaseEntries(fake)["n2"] != nil)
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
            let results = Locked<[String: Bool]>([:])
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

    /// The entry fails closed at its own deadline, not when the API server finally answers (60 s) nor at
    /// the client's request timeout (30 s): the bound (15 s) tells them apart with room for a machine
    /// busy with the tests running in parallel; it is no claim about speed.
    @Test func anUnreachableOrSlowAPIServerFailsClosedByTheDeadline() throws {
        let fake = try Self.fake()
        let decider = try Self.replica(fake)
        defer { decider.cache.stop() }
        fake.api.setDelay(seconds: 60)
        var start = Deadline.now()
        let slow = decider.decideNow(Self.entry("n2", uid: "u1", deadline: 1.5))
        #expect(!slow.allowed)
        #expect(slow.message?.hasPrefix("GenericFailure: ") == true, "\(slow.message ?? "")")
        #expect(seconds(since: start) < 15, "decided \(seconds(since: start)) s after the start, with a 1.5 s deadline")
        fake.api.setDelay(seconds: 0)
        fake.stop()
        start = Deadline.now()
        let down = decider.decideNow(Self.entry("n2", uid: "u2", deadline: 2))
        #expect(!down.allowed)
        #expect(down.message?.hasPrefix("GenericFailure: ") == true)
        #expect(seconds(since: start) < 15, "decided \(seconds(since: start)) s after the start, with a 2 s deadline")
    }

    @Test func theReconcilerRemovesStaleAnnotationsOnlyWhenTheNodeIsBackAndTheGraceHasPassed() throws {
        let fake = try Self.fake()
        defer { fake.stop() }
        let old = String(Int64(Date().timeIntervalSince1970) - 3600)
        let recent = String(Int64(Date().timeIntervalSince1970))
        for (pod, at) in [("db-0", old), ("db-1", recent)] {
            try annotate(fake, pod: pod, value: "TooManyExistingFailures", at: at)
        }
        let decider = try Self.replica(fake)
        defer { decider.cache.stop() }
        #expect(decider.pipeline.reconcile(grace: .seconds(600)) == 1)
        #expect(Self.annotation(fake, pod: "db-0") == nil)
        #expect(Self.annotation(fake, pod: "db-1") == "TooManyExistingFailures", "younger than the grace period: kept")
        #expect(decider.pipeline.reconcile(grace: .seconds(600)) == 0)
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
        let handler = WebhookHandler(reviewer: AdmissionReviewer(decider: decider.pipeline, logger: Self.quiet()), readiness: Readiness())
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.eventLoopCount = 1
        let server = try HTTPServer(
            configuration: configuration, tls: TLSContextSource(try certificates.serverContext()), handler: handler, logger: Self.quiet())
        server.start()
        defer { server.shutdown() }
        let client = HTTPClientConnection(
            try TLSClientConnection(host: "127.0.0.1", port: server.port, context: try certificates.clientContext(), deadline: deadline(5)))
        func review(_ node: String, uid: String, taint: Bool, timeout: Int = 5) throws -> JSON {
            let taints = taint ? #"[{"key":"drain","value":"planned-downtime","effect":"NoSchedule"}]"# : "[]"
            let body = #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"\#(uid)","kind":{"group":"","version":"v1","kind":"Node"},"operation":"UPDATE","name":"\#(node)","dryRun":false,"object":{"spec":{"taints":\#(taints)}},"oldObject":{"spec":{}}}}"#
            try client.send(
                method: "POST", target: "/validate?timeout=\(timeout)s", host: "x", headers: [("Content-Type", "application/json")],
                body: Array(body.utf8), deadline: deadline(Double(timeout + 1)))
            return try JSON.parse(try client.readResponse(deadline: deadline(Double(timeout + 1))).body)
        }
        #expect(try review("n2", uid: "a", taint: true)["response"]?["allowed"]?.bool == true)
        let denied = try review("n3", uid: "b", taint: true)
        #expect(denied["response"]?["allowed"]?.bool == false)
        #expect(Self.annotation(fake, pod: "db-2") == "TooManyExistingFailures")
        // A label change is answered from memory, without waiting on a slow API server: one that waited
        // would answer at the review's timeout (30 s) or when the API server does (60 s). The bound tells
        // those apart, generously (other tests run in parallel); it is no claim about speed.
        fake.api.setDelay(seconds: 60)
        let start = Deadline.now()
        #expect(try review("n1", uid: "c", taint: false, timeout: 30)["response"]?["allowed"]?.bool == true)
        #expect(seconds(since: start) < 15, "answered \(seconds(since: start)) s after it was sent")
        fake.api.setDelay(seconds: 0)
    }

    @Test func aRefusedPolicyIsReportedAsAnEventOnItsConfigMap() throws {
        let fake = try Self.fake()
        defer { fake.stop() }
        let decider = try Self.replica(fake)
        defer { decider.cache.stop() }
        decider.backend.policyRejected("line 2: maxNodesInMaintenance: not an integer", configMap: "tmm-webhook-policy")
        try waitUntil("the Event", timeout: 5) { !fake.api.objects(under: "/api/v1/namespaces/tmm-system/events").isEmpty }
        let event = fake.api.objects(under: "/api/v1/namespaces/tmm-system/events").first
        #expect(event?["reason"]?.string == "PolicyRejected")
        #expect(event?["type"]?.string == "Warning")
        #expect(event?.value(at: "involvedObject", "kind")?.string == "ConfigMap")
        #expect(event?.value(at: "involvedObject", "name")?.string == "tmm-webhook-policy")
    }
}
