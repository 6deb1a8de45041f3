import Glibc
import Logging
import TMMAdmission
import TMMBase
import TMMJSON
import TMMKube
import TMMPolicy
import TMMTransport

/// The entry pipeline's backend for a live cluster: a watch cache checked against the API server before
/// each entry, the replicas' shared Lease of admitted entries, annotations patched through the API
/// server, an Event per decision.
///
/// Nothing here changes because a request says so: node transitions come from the watch.
final class LiveBackend: EntryBackend {
    /// What `begin` read: the Lease of admitted entries, and the freshness check's probe.
    struct Ticket: Sendable {
        var lease: EntryLedger.Snapshot
        var probed: Result<WatchCache<ClusterStore>.Probe, WatchCache<ClusterStore>.ProbeFailure>
    }

    struct Settings: Sendable {
        /// How long a decision waits for the cache to catch up with the API server.
        var freshnessWait: Duration = .seconds(1)
        /// Our own namespace (for the Lease) and pod name (for Events and the Lease holder).
        var namespace: String = "tmm-system"
        var podName: String = "tmm-webhook"
        var leaseName: String = "tmm-webhook-entries"
        /// An admitted entry counts as pending at most until its request's deadline plus this margin:
        /// by then the API server has stored the update or dropped it.
        var admissionMargin: Duration = .seconds(5)
        /// A refusal leaves a pod that already carries the same reason alone when that was written less
        /// than this long ago. A refused entry is typically retried every few seconds (vSphere does), and
        /// rewriting every pod each time only loads the API server. Keep it under half the reconciler's
        /// grace, so the written-at time of a node refused on and on never looks stale to it.
        var annotationRefresh: Duration = .seconds(120)
    }

    let cache: WatchCache<ClusterStore>
    private let client: KubeClient
    private let settings: Settings
    private let ledger: EntryLedger
    private let annotator: PodAnnotator
    private let events: EventRecorder
    private let relay: TransitionRelay
    private let logger: Logger

    /// Makes the cache (not started) and the backend around it. `onCacheChange` sees every change of a
    /// resource's status (metrics).
    init(
        client: KubeClient, config: PolicyConfig, settings: Settings, cacheSettings: WatchCache<ClusterStore>.Settings = .init(),
        logger: Logger,
        onWriteDelivered: @escaping @Sendable (ClusterStore.Resource, Duration) -> Void = { _, _ in },
        onCacheChange: @escaping @Sendable (ClusterStore.Resource, WatchCache<ClusterStore>.ResourceStatus) -> Void = { _, _ in }
    ) {
        let relay = TransitionRelay()
        let store = ClusterStore(
            keptAnnotationKeys: ClusterState.defaultKeptAnnotationKeys.union([config.annotationKey, PodAnnotator.writtenAtKey]),
            taintKeys: config.taintKeys)
        let cache = WatchCache(
            client: client, store: store, settings: cacheSettings, logger: logger, onWriteDelivered: onWriteDelivered
        ) { resource, status in
            onCacheChange(resource, status)
            if resource == .nodes { relay.deliver(from: relay.cache) }
        }
        relay.cache = cache
        self.cache = cache
        self.client = client
        self.relay = relay
        self.settings = settings
        self.ledger = EntryLedger(client: client, namespace: settings.namespace, name: settings.leaseName, holder: settings.podName)
        self.annotator = PodAnnotator(client: client)
        self.events = EventRecorder(client: client, reportingInstance: settings.podName, logger: logger)
        self.logger = logger
    }

    /// Keeps as many connections to the API server open as a refusal patches pods at once, so the
    /// refusal (which answers only after its patches) pays no TLS handshakes: on the real API server the
    /// first refusal after a start took 132 ms to patch 30 pods on new connections and the next ones
    /// 33–72 ms. Called at start and before each reconciler pass; cheap when the pool is full (a `poll`
    /// per idle connection).
    func keepConnectionsWarm() {
        let opened = client.warmUp(to: annotator.parallelism, deadline: .now() + .seconds(10))
        if opened > 0 { logger.debug("opened connections to the API server", metadata: ["count": "\(opened)"]) }
    }

    /// Records that a new policy was refused, on the policy ConfigMap.
    func policyRejected(_ message: String, configMap: String) {
        events.recordPolicyRejected(namespace: settings.namespace, configMap: configMap, message: message)
    }

    /// Reads the Lease of admitted entries and, at the same time, the API server's current
    /// resourceVersion for the freshness check (two consistent reads). The cache is not waited for here:
    /// a refusal is first tried for confirmation at the source (`confirm`), and anything else waits in
    /// `awaitCurrent`, whose quiet time counts from the probe's answer.
    func begin(_ entry: EntryRequest, deadline: Deadline) -> Result<Ticket, UnknownState> {
        guard cache.isSynced else { return .failure(UnknownState("the cluster cache is not synced yet (\(cache.syncDescription))")) }
        // A consistent (quorum) read of an empty list gives the API server's current resourceVersion.
        let path = "/api/v1/namespaces/\(settings.namespace)/pods?fieldSelector=metadata.name%3D__tmm_resource_version_probe__&limit=1"
        let probed = Locked<Result<WatchCache<ClusterStore>.Probe, WatchCache<ClusterStore>.ProbeFailure>?>(nil)
        let cache = self.cache
        let prober = startThread(name: "tmm-probe") {
            let result = cache.probe(path, deadline: deadline)
            probed.withLock { $0 = result }
        }
        // The Lease and the probe do not depend on each other. An entry another replica records after
        // this read makes this one's compare-and-swap fail, which starts over with a new read.
        let lease = Result { () throws(KubeError) in try ledger.read(deadline: deadline) }
        prober.join()
        switch (lease, probed.withLock({ $0 })) {
        case (.success(let snapshot), .some(let probe)):
            return .success(Ticket(lease: snapshot, probed: probe))
        case (.failure(let error), _):
            return .failure(UnknownState("cannot read the admitted-entries Lease: \(error)"))
        case (_, nil):
            return .failure(UnknownState("the API server's resourceVersion was not read"))
        }
    }

    func awaitCurrent(_ ticket: Ticket, deadline: Deadline) -> UnknownState? {
        switch ticket.probed {
        case .failure(let why): return UnknownState(why.description)
        case .success(let probe): return cache.waitUntilFresh(probe, wait: settings.freshnessWait, deadline: deadline).map(UnknownState.init)
        }
    }

    /// Reads the target and the nodes the refusal counted straight from the API server (consistent
    /// GETs, in parallel): the refusal holds when the target is there and not already in maintenance at
    /// the level asked for, and at least `atLeast` of the others carry a maintenance taint or are still
    /// pending in the Lease as read by `begin`. Any error, or too many nodes to read, is "cannot tell".
    func confirm(_ confirmation: RefusalConfirmation, ticket: Ticket, taintKeys: [String], deadline: Deadline) -> Bool {
        guard confirmation.nodes.count <= Self.maxConfirmationReads else { return false }
        let names = [confirmation.target] + confirmation.nodes
        let found = Locked<[String: NodeAtSource]>([:])
        let client = self.client
        let threads = names.map { name in
            startThread(name: "tmm-confirm") {
                let read = NodeAtSource.read(name, client: client, taintKeys: taintKeys, deadline: deadline)
                found.withLock { $0[name] = read }
            }
        }
        threads.forEach { $0.join() }
        let nodes = found.withLock { $0 }
        guard case .present(let targetLevel, _)? = nodes[confirmation.target] else { return false }
        if let targetLevel, targetLevel >= confirmation.level { return false }
        let now = Self.wallClockMillis()
        var held = 0
        for name in confirmation.nodes {
            switch nodes[name] {
            case .present(let level, let version)?:
                if level != nil || ticket.lease.entries[name]?.isPending(nodeVersion: version, inMaintenance: false, nowMillis: now) == true {
                    held += 1
                }
            case .absent?:
                // The engine counts an admitted entry of a node it does not know; `isPending` does not.
                continue
            case .unreadable?, nil:
                return false
            }
        }
        return held >= confirmation.atLeast
    }

    /// A refusal names at most this many nodes to read for its confirmation (each is a GET).
    static let maxConfirmationReads = 16

    /// A node as the API server has it now.
    enum NodeAtSource: Sendable {
        /// Its maintenance level (nil: not in maintenance) and resourceVersion.
        case present(MaintenanceLevel?, UInt64)
        case absent
        case unreadable

        static func read(_ name: String, client: KubeClient, taintKeys: [String], deadline: Deadline) -> NodeAtSource {
            do throws(KubeError) {
                let node = try client.get("/api/v1/nodes/\(PercentEncoding.encode(name))", deadline: deadline)
                guard let version = node.value(at: "metadata", "resourceVersion")?.string.flatMap({ UInt64($0) }) else { return .unreadable }
                let taints = (node.value(at: "spec", "taints")?.array ?? []).map { t in
                    Taint(key: t["key"]?.string ?? "", value: t["value"]?.string ?? "", effect: t["effect"]?.string ?? "")
                }
                return .present(MaintenanceLevel.of(taints, taintKeys: taintKeys), version)
            } catch where error.isNotFound {
                return .absent
            } catch {
                return .unreadable
            }
        }
    }

    func withState<T>(
        _ ticket: Ticket, for entry: EntryRequest, taintKeys: [String], _ body: (ClusterState, Set<String>) -> T
    ) -> T {
        let now = Self.wallClockMillis()
        return cache.withStore { store, _ in
            let pending = Self.pending(ticket.lease.entries, in: store, nowMillis: now).subtracting([entry.request.name])
            return body(store.cluster, pending)
        }
    }

    /// The nodes of `entries` still pending as `store` shows the cluster.
    static func pending(_ entries: [String: EntryLedger.Entry], in store: ClusterStore, nowMillis: Int64) -> Set<String> {
        Set(
            entries.compactMap { node, entry in
                let version = store.cluster.node(named: node) == nil ? nil : store.version(ofNode: node)
                return entry.isPending(nodeVersion: version, inMaintenance: store.inMaintenance.contains(node), nowMillis: nowMillis)
                    ? node : nil
            })
    }

    func commit(_ entry: EntryRequest, ticket: Ticket, deadline: Deadline) -> CommitResult {
        let node = entry.request.name
        let now = Self.wallClockMillis()
        let untilDeadline = entry.deadline.timeRemaining().totalNanoseconds / 1_000_000
        // Entries the cluster has already resolved are dropped as the Lease is written.
        let entries = cache.withStore { store, _ in
            let still = Self.pending(ticket.lease.entries, in: store, nowMillis: now)
            var kept = ticket.lease.entries.filter { still.contains($0.key) }
            kept[node] = EntryLedger.Entry(
                expires: now + untilDeadline + max(0, settings.admissionMargin.totalNanoseconds) / 1_000_000,
                resourceVersion: store.version(ofNode: node))
            return kept
        }
        do throws(KubeError) {
            try ledger.write(ticket.lease, entries: entries, deadline: deadline)
            return .committed
        } catch {
            if error.isConflict || error.isAlreadyExists { return .conflict }
            return .failed("cannot record the admitted entry in the Lease: \(error)")
        }
    }

    func annotate(_ pods: [PodRef], key: String, value: String?, deadline: Deadline) -> AnnotationOutcome {
        let now = Int64(time(nil))
        // The cache is current here (the entry passed the freshness check), and it shows our own writes
        // at once (mirrored below): a pod it shows with this value, written recently, needs no write.
        let refreshSeconds = settings.annotationRefresh.components.seconds
        let (pods, unchanged) = value.map { value in
            cache.withStore { store, _ in
                let stale = pods.filter { pod in
                    guard store.cluster.annotation(namespace: pod.namespace, pod: pod.name, key: key) == value,
                        let writtenAt = store.cluster.annotation(namespace: pod.namespace, pod: pod.name, key: PodAnnotator.writtenAtKey)
                            .flatMap({ Int64($0) })
                    else { return true }
                    return now - writtenAt >= refreshSeconds
                }
                return (stale, pods.count - stale.count)
            }
        } ?? (pods, 0)
        let connectionsBefore = client.connectionsOpened
        // Each patch's event is timed against its answer: the delay the freshness check's quiet wait assumes.
        cache.expectWrites(to: .pods)
        let result = annotator.annotate(pods, key: key, value: value, now: now, deadline: deadline)
        cache.wrote(.pods, result.written)
        var timing = AnnotationOutcome.Timing()
        let durations = result.durations.sorted()
        timing.slowest = durations.last ?? .zero
        timing.median = durations.isEmpty ? .zero : durations[durations.count / 2]
        timing.retries = result.retries
        timing.connectionsOpened = client.connectionsOpened - connectionsBefore
        // Mirror the change into the cache at once (the watch will confirm it): the next decision, the
        // reconciler and `status` see it without waiting for the event.
        cache.withStore { store, _ in
            for pod in pods {
                _ = store.cluster.setAnnotation(namespace: pod.namespace, pod: pod.name, key: key, value: value)
                _ = store.cluster.setAnnotation(
                    namespace: pod.namespace, pod: pod.name, key: PodAnnotator.writtenAtKey, value: value == nil ? nil : String(now))
            }
        }
        return AnnotationOutcome(patched: result.patched, gone: result.gone, failed: result.failed, unchanged: unchanged, timing: timing)
    }

    func pods(onNode node: String, carrying key: String) -> [PodRef] {
        cache.withStore { store, _ in
            store.cluster.pods(onNode: node).filter { store.cluster.annotation(namespace: $0.namespace, pod: $0.name, key: key) != nil }
        }
    }

    func isInMaintenance(_ node: String) -> Bool { cache.withStore { store, _ in store.inMaintenance.contains(node) } }

    func recordDecision(node: String, admitted: Bool, message: String) {
        events.record(node: node, admitted: admitted, message: message)
    }

    /// The watch will show the node enter (or not): nothing to do now.
    func entryAllowed(_ entry: EntryRequest) {}

    /// A request saying a node left proves nothing: the watch will show it if it did.
    func exitAnswered(_ request: AdmissionRequest) {}

    func policyChanged(_ config: PolicyConfig) {
        cache.withStore { store, _ in
            store.taintKeys = config.taintKeys
            store.refreshMaintenance()
        }
    }

    func staleAnnotations(key: String, grace: Duration) -> [PodRef] {
        let now = Int64(time(nil))
        let graceSeconds = grace.components.seconds
        return cache.withStore { store, _ in
            store.cluster.pods(annotatedWith: key).compactMap { entry in
                // Still in maintenance: the annotation may still be true.
                if let node = entry.node, store.inMaintenance.contains(node) { return nil }
                let writtenAt = store.cluster.annotation(namespace: entry.pod.namespace, pod: entry.pod.name, key: PodAnnotator.writtenAtKey)
                    .flatMap { Int64($0) } ?? 0
                return now - writtenAt >= graceSeconds ? entry.pod : nil
            }
        }
    }

    func observeTransitions(_ handler: @escaping @Sendable ([NodeTransition]) -> Void) {
        relay.handler.withLock { $0 = handler }
    }

    /// Hands on the transitions the store has recorded (the cache does this after each node change).
    func deliverTransitions() { relay.deliver(from: cache) }

    static func wallClockMillis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

/// Hands the node transitions the watch cache recorded to the pipeline, outside the cache's lock.
final class TransitionRelay: Sendable {
    let handler = Locked<@Sendable ([NodeTransition]) -> Void>({ _ in })
    private let cacheBox = Locked<WatchCache<ClusterStore>?>(nil)

    var cache: WatchCache<ClusterStore>? {
        get { cacheBox.withLock { $0 } }
        set { cacheBox.withLock { $0 = newValue } }
    }

    func deliver(from cache: WatchCache<ClusterStore>?) {
        guard let cache else { return }
        let transitions = cache.withStore { store, _ in store.takeTransitions() }
        guard !transitions.isEmpty else { return }
        let handler = self.handler.withLock { $0 }
        handler(transitions)
    }
}
