import Glibc
public import Logging
import Synchronization
import TMMJSON
public import TMMKube
public import TMMPolicy
import TMMTransport

/// A watch cache of nodes, pods and PodDisruptionBudgets, kept in one `ClusterState`.
///
/// One thread per resource: a paged LIST, then a WATCH from the list's resourceVersion with bookmarks;
/// a dropped stream resumes from the last resourceVersion seen; a 410 (HTTP or an `ERROR` event) relists;
/// other errors back off with jitter, up to 30 s. Decisions read the state under the same lock the
/// watchers write it with, so a decision sees one consistent moment.
public final class ClusterCache: Sendable {
    public enum Resource: String, CaseIterable, Sendable {
        case nodes, pods, poddisruptionbudgets

        var path: String {
            switch self {
            case .nodes: "/api/v1/nodes"
            case .pods: "/api/v1/pods"
            case .poddisruptionbudgets: "/apis/policy/v1/poddisruptionbudgets"
            }
        }
    }

    public struct ResourceStatus: Sendable {
        /// A full list has been loaded and not invalidated since.
        public var synced = false
        /// The last resourceVersion seen (list, event or bookmark), as a number when it is one.
        public var resourceVersion = ""
        public var resourceVersionNumber: UInt64 = 0
        /// When the last event or bookmark arrived (monotonic ns); 0 before any.
        public var lastActivity: UInt64 = 0
        /// When the current watch stream was opened (monotonic ns): a sign of life for a quiet resource.
        public var watchOpenedAt: UInt64 = 0
        /// A watch stream is open.
        public var watching = false
        public var lastError: String?
    }

    struct Shared: Sendable {
        var cluster: ClusterState
        var status: [Resource: ResourceStatus] = [:]
        var stopped = false
    }

    public let client: KubeClient
    private let shared: Mutex<Shared>
    private let logger: Logger
    private let pageSize: Int
    private let watchTimeoutSeconds: Int
    /// A quiet watch counts as current only if it showed life (an event, a bookmark, or being reopened)
    /// this recently. The API server bookmarks about once a minute, and a watch is reopened every
    /// `watchTimeoutSeconds`; a stream that stalls without closing goes stale after this long.
    private let maxQuiet: Duration
    private let threads = Mutex<[OSThread]>([])
    /// Called after every change (for metrics), outside the lock.
    private let onActivity: @Sendable (Resource, ResourceStatus) -> Void

    public init(
        client: KubeClient, keptAnnotationKeys: Set<String>, logger: Logger, pageSize: Int = 500,
        watchTimeoutSeconds: Int = 120, maxQuiet: Duration = .seconds(150),
        onActivity: @escaping @Sendable (Resource, ResourceStatus) -> Void = { _, _ in }
    ) {
        self.maxQuiet = maxQuiet
        self.client = client
        self.logger = logger
        self.pageSize = pageSize
        self.watchTimeoutSeconds = watchTimeoutSeconds
        self.onActivity = onActivity
        var shared = Shared(cluster: ClusterState(keptAnnotationKeys: keptAnnotationKeys))
        for resource in Resource.allCases { shared.status[resource] = ResourceStatus() }
        self.shared = Mutex(shared)
    }

    public func start() {
        let started = Resource.allCases.map { resource in
            startThread(name: "tmm-watch-\(resource.rawValue.prefix(4))") { [self] in run(resource) }
        }
        threads.withLock { $0 = started }
    }

    /// Stops the watchers (each within its current call's deadline).
    public func stop() {
        shared.withLock { $0.stopped = true }
    }

    /// True once every resource has been listed.
    public var isSynced: Bool { shared.withLock { $0.status.values.allSatisfy(\.synced) } }

    /// What is not synced yet, for `/readyz`.
    public var syncDescription: String {
        shared.withLock { s in
            Resource.allCases.map { r in "\(r.rawValue): \(s.status[r]!.synced ? "synced" : (s.status[r]!.lastError ?? "listing"))" }
                .joined(separator: ", ")
        }
    }

    /// Runs `body` with the state and the resources' status, under the cache's lock.
    public func withState<T>(_ body: (inout ClusterState, [Resource: ResourceStatus]) throws -> T) rethrows -> T {
        try shared.withLock { s in try body(&s.cluster, s.status) }
    }

    // MARK: Freshness

    /// Waits (at most `wait`) until the cache has caught up with `resourceVersion`, read from the API
    /// server with a consistent read just before. Returns nil when fresh, or why not.
    ///
    /// A resource is caught up when it has seen that resourceVersion. A resource with no change since
    /// (nothing arrives for it) cannot show it; such a resource counts as caught up when its watch stream is
    /// open, has delivered nothing during the first `quietAfter` of the wait (the time an event already on
    /// the wire takes to arrive), and has shown life within `maxQuiet` (so a stalled stream goes stale).
    func waitUntilFresh(resourceVersion: UInt64, wait: Duration = .seconds(1), quietAfter: Duration = .milliseconds(100)) -> String? {
        let start = MonotonicClock.now()
        let end = start &+ wait.nanosecondCount
        let quiet = start &+ quietAfter.nanosecondCount
        while true {
            let now = MonotonicClock.now()
            let lagging: [String] = shared.withLock { s in
                Resource.allCases.compactMap { r -> String? in
                    let st = s.status[r]!
                    if !st.synced { return "\(r.rawValue) not synced (\(st.lastError ?? "listing"))" }
                    if st.resourceVersionNumber >= resourceVersion { return nil }
                    let lastLife = max(st.lastActivity, st.watchOpenedAt)
                    let alive = now &- lastLife < maxQuiet.nanosecondCount
                    if st.watching && alive && now >= quiet && st.lastActivity < quiet { return nil }
                    let why = !st.watching ? ", watch not connected" : !alive ? ", watch silent for \((now &- lastLife) / 1_000_000_000) s" : ""
                    return "\(r.rawValue) at resourceVersion \(st.resourceVersion), the API server at \(resourceVersion)\(why)"
                }
            }
            if lagging.isEmpty { return nil }
            if now >= end { return "the cache is behind the API server: " + lagging.joined(separator: "; ") }
            usleep(2_000)
        }
    }

    // MARK: Watch loop

    private func run(_ resource: Resource) {
        var needList = true
        var backoff: Double = 0.2
        while !shared.withLock({ $0.stopped }) {
            do throws(KubeError) {
                if needList {
                    try relist(resource)
                    needList = false
                }
                let from = shared.withLock { $0.status[resource]!.resourceVersion }
                let watchStarted = MonotonicClock.now()
                setWatching(resource, true)
                var gone = false
                let end = try client.watch(
                    resource.path, resourceVersion: from, allowBookmarks: true, timeoutSeconds: watchTimeoutSeconds
                ) { event in
                    if shared.withLock({ $0.stopped }) { return false }
                    if event.type == .error {
                        let error = event.error
                        if error?.isGone == true { gone = true } else {
                            logger.warning("watch error event", metadata: ["resource": "\(resource.rawValue)", "error": "\(error.map { "\($0)" } ?? "?")"])
                        }
                        return false
                    }
                    apply(event, to: resource)
                    return true
                }
                setWatching(resource, false)
                if gone {
                    logger.info("watch expired (410): relisting", metadata: ["resource": "\(resource.rawValue)"])
                    needList = true
                    continue
                }
                if MonotonicClock.now() &- watchStarted < 1_000_000_000 {
                    // A stream that ends as soon as it starts would make this a hot loop: pace it.
                    sleepUnlessStopped(seconds: backoff * Double.random(in: 0.5...1.5))
                    backoff = min(backoff * 2, 30)
                } else if end == .serverClosed || end == .deadline {
                    backoff = 0.2
                }
            } catch {
                setWatching(resource, false)
                if error.isGone {
                    logger.info("resourceVersion too old (410): relisting", metadata: ["resource": "\(resource.rawValue)"])
                    needList = true
                    continue
                }
                shared.withLock { $0.status[resource]!.lastError = "\(error)" }
                logger.warning(
                    "watch failed; retrying", metadata: ["resource": "\(resource.rawValue)", "error": "\(error)", "retryIn": "\(String(format: "%.1f", backoff))s"])
                // Back off with jitter so replicas and resources do not retry in step.
                let jittered = backoff * Double.random(in: 0.5...1.5)
                sleepUnlessStopped(seconds: jittered)
                backoff = min(backoff * 2, 30)
            }
        }
    }

    private func sleepUnlessStopped(seconds: Double) {
        let end = MonotonicClock.now() &+ UInt64(seconds * 1e9)
        while MonotonicClock.now() < end && !shared.withLock({ $0.stopped }) { usleep(20_000) }
    }

    private func setWatching(_ resource: Resource, _ watching: Bool) {
        let status = shared.withLock { s -> ResourceStatus in
            s.status[resource]!.watching = watching
            if watching {
                s.status[resource]!.lastError = nil
                s.status[resource]!.watchOpenedAt = MonotonicClock.now()
            }
            return s.status[resource]!
        }
        onActivity(resource, status)
    }

    /// A paged LIST straight into the state (no JSON tree is built), then removal of what is gone.
    private func relist(_ resource: Resource) throws(KubeError) {
        shared.withLock { $0.status[resource]!.synced = false }
        let started = MonotonicClock.now()
        var merged = ClusterState.MergedObjects()
        var token: String?
        var listVersion = ""
        var pages = 0
        repeat {
            var target = "\(resource.path)?limit=\(pageSize)"
            if let token { target += "&continue=\(percentEncode(token))" }
            let response = try client.request(method: "GET", path: target)
            let (next, version) = Self.listMetadata(response.body)
            if pages == 0 { listVersion = version }
            var failure: PolicyError?
            shared.withLock { s in
                do throws(PolicyError) {
                    try s.cluster.merge(json: response.body, recording: &merged)
                } catch {
                    failure = error
                }
            }
            if let failure { throw KubeError(.decode, "LIST \(resource.path): \(failure)") }
            token = next.isEmpty ? nil : next
            pages += 1
        } while token != nil
        let (status, removed) = shared.withLock { s -> (ResourceStatus, Int) in
            var removed = 0
            switch resource {
            case .nodes:
                for name in s.cluster.nodeNames where !merged.nodes.contains(name) {
                    s.cluster.remove(node: name)
                    removed += 1
                }
            case .pods:
                for ref in s.cluster.podRefs where !merged.pods.contains(ref) {
                    s.cluster.remove(namespace: ref.namespace, pod: ref.name)
                    removed += 1
                }
            case .poddisruptionbudgets:
                for ref in s.cluster.budgetRefs where !merged.budgets.contains(ref) {
                    s.cluster.remove(namespace: ref.namespace, budget: ref.name)
                    removed += 1
                }
            }
            var st = s.status[resource]!
            st.synced = true
            st.resourceVersion = listVersion
            st.resourceVersionNumber = UInt64(listVersion) ?? 0
            st.lastActivity = MonotonicClock.now()
            st.lastError = nil
            s.status[resource] = st
            return (st, removed)
        }
        onActivity(resource, status)
        let count = resource == .nodes ? merged.nodes.count : resource == .pods ? merged.pods.count : merged.budgets.count
        logger.info(
            "listed", metadata: [
                "resource": "\(resource.rawValue)", "objects": "\(count)", "removed": "\(removed)", "pages": "\(pages)",
                "resourceVersion": "\(listVersion)",
                "ms": "\((MonotonicClock.now() - started) / 1_000_000)",
            ])
    }

    private func apply(_ event: KubeWatchEvent, to resource: Resource) {
        let version = event.resourceVersion ?? ""
        let status = shared.withLock { s -> ResourceStatus in
            if event.type != .bookmark {
                let namespace = event.object.value(at: "metadata", "namespace")?.string ?? ""
                let name = event.object.value(at: "metadata", "name")?.string ?? ""
                do throws(PolicyError) {
                    switch (resource, event.type) {
                    case (.nodes, .deleted): s.cluster.remove(node: name)
                    case (.nodes, _): s.cluster.upsert(node: try Node(json: event.object))
                    case (.pods, .deleted): s.cluster.remove(namespace: namespace, pod: name)
                    case (.pods, _):
                        s.cluster.upsert(pod: try Pod(json: event.object, keptAnnotationKeys: s.cluster.keptAnnotationKeys))
                    case (.poddisruptionbudgets, .deleted): s.cluster.remove(namespace: namespace, budget: name)
                    case (.poddisruptionbudgets, _): s.cluster.upsert(budget: try DisruptionBudget(json: event.object))
                    }
                } catch {
                    logger.warning("cannot read a watched object", metadata: ["resource": "\(resource.rawValue)", "name": "\(namespace)/\(name)", "error": "\(error)"])
                }
            }
            var st = s.status[resource]!
            if !version.isEmpty {
                st.resourceVersion = version
                st.resourceVersionNumber = max(st.resourceVersionNumber, UInt64(version) ?? 0)
            }
            st.lastActivity = MonotonicClock.now()
            s.status[resource] = st
            return st
        }
        onActivity(resource, status)
    }

    /// `metadata.continue` and `metadata.resourceVersion` of a list body, without reading its items.
    static func listMetadata(_ body: [UInt8]) -> (continue: String, resourceVersion: String) {
        var next = ""
        var version = ""
        body.withUnsafeBytes { buffer in
            var scanner = JSONScanner(buffer)
            try? scanner.readObject { (s, key) throws(JSONError) in
                guard key.equals("metadata") else { return }
                try s.readObject { (s, key) throws(JSONError) in
                    if key.equals("continue") { next = try s.readOptionalString() ?? "" }
                    else if key.equals("resourceVersion") { version = try s.readOptionalString() ?? "" }
                }
            }
        }
        return (next, version)
    }
}

/// Percent-encodes a query value (continue tokens are base64 and may hold `+`, `/`, `=`).
func percentEncode(_ value: String) -> String {
    var out = ""
    for byte in value.utf8 {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
            out.append(Character(UnicodeScalar(byte)))
        default:
            let hex = Array("0123456789ABCDEF")
            out += "%\(hex[Int(byte >> 4)])\(hex[Int(byte & 0xF)])"
        }
    }
    return out
}
