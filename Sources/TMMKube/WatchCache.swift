import Glibc
public import Logging
public import TMMBase
import TMMJSON
import TMMTransport

/// A list/watch cache of several collections kept in one store, with a freshness check against the API
/// server.
///
/// One thread per resource: a paged LIST, then a WATCH from the list's resourceVersion with bookmarks;
/// a dropped stream resumes from the last resourceVersion seen; a 410 (HTTP or an `ERROR` event)
/// relists; other errors back off with jitter, up to ``Settings/maxBackoff`` (short, so the cache is
/// current again within seconds of the API server coming back). Readers see the store under the same
/// lock the watchers write it with, so a decision sees one consistent moment.
public final class WatchCache<Store: WatchCacheStore>: Sendable {
    public typealias Resource = Store.Resource

    public struct Settings: Sendable {
        /// Items per LIST page.
        public var pageSize = 500
        /// A watch is reopened this often (the API server's `timeoutSeconds`): a sign of life for a quiet resource.
        public var watchTimeoutSeconds = 120
        /// A quiet watch counts as current only if it showed life (an event, a bookmark, or being
        /// reopened) this recently; a stream that stalls without closing goes stale after this long.
        public var maxQuiet: Duration = .seconds(150)
        /// The longest pause between two attempts while the API server is unreachable (jittered ±50 %).
        public var maxBackoff: Duration = .seconds(2)
        /// How long the freshness check waits for an event already on the wire: a resource that has not
        /// reached the API server's resourceVersion passes as quiet only when nothing arrived for it this
        /// long into the wait. The delay of the webhook's own writes is measured against it (a warning
        /// when one takes longer).
        public var quietAfter: Duration = .milliseconds(100)
        public init() {}
    }

    /// What the cache knows of one resource's stream.
    public struct ResourceStatus: Sendable {
        /// A full list has been loaded and not invalidated since.
        public var synced = false
        /// The last resourceVersion seen (list, event or bookmark), and as a number when it is one.
        public var resourceVersion = ""
        public var resourceVersionNumber: UInt64 = 0
        /// When the last event, bookmark or list arrived; `distantPast` before any.
        public var lastActivity = Deadline.distantPast
        /// When the current watch stream was opened; `distantPast` before the first.
        public var watchOpenedAt = Deadline.distantPast
        /// A watch stream is open.
        public var watching = false
        public var lastError: String?

        public init() {}

        /// The last sign of life: an event, a bookmark, a list, or the stream being (re)opened.
        public var lastLife: Deadline { max(lastActivity, watchOpenedAt) }

        /// Whether a quiet stream is still trusted at `now`: synced, watching, and alive within `maxQuiet`.
        /// The freshness check and the health metrics both use this one definition.
        public func isHealthy(now: Deadline, maxQuiet: Duration) -> Bool {
            synced && watching && now - lastLife < maxQuiet
        }
    }

    private struct Shared: Sendable {
        var store: Store
        var status: [Resource: ResourceStatus]
        var stopped = false
        /// The webhook's own writes, timed to their events, by resource (only those written through
        /// ``expectWrites(to:)`` and ``wrote(_:_:)``).
        var deliveries: [Resource: WriteDeliveryLog] = [:]
        /// When a write's event last came later than `quietAfter` (the warning is logged once a minute).
        var lastSlowDeliveryWarning = Deadline.distantPast
    }

    public let client: KubeClient
    public let settings: Settings
    private let shared: Locked<Shared>
    private let logger: Logger
    /// Called after every change of `resource` (for metrics and side effects), outside the lock.
    private let onChange: @Sendable (Resource, ResourceStatus) -> Void
    /// Called with the delay of each timed write's event (``wrote(_:_:)``), outside the lock.
    private let onWriteDelivered: @Sendable (Resource, Duration) -> Void

    public init(
        client: KubeClient, store: Store, settings: Settings = Settings(), logger: Logger,
        onWriteDelivered: @escaping @Sendable (Resource, Duration) -> Void = { _, _ in },
        onChange: @escaping @Sendable (Resource, ResourceStatus) -> Void = { _, _ in }
    ) {
        self.client = client
        self.settings = settings
        self.logger = logger
        self.onChange = onChange
        self.onWriteDelivered = onWriteDelivered
        var status: [Resource: ResourceStatus] = [:]
        for resource in Resource.allCases { status[resource] = ResourceStatus() }
        self.shared = Locked(Shared(store: store, status: status))
    }

    /// Starts one watch thread per resource. No one joins them: each ends on its own after `stop()`.
    public func start() {
        for resource in Resource.allCases {
            startThread(name: "tmm-watch-\(resource.name.prefix(4))") { [self] in run(resource) }.detach()
        }
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
            Resource.allCases.map { r in "\(r.name): \(s.status[r]!.synced ? "synced" : (s.status[r]!.lastError ?? "listing"))" }
                .joined(separator: ", ")
        }
    }

    /// Each resource's status.
    public var status: [Resource: ResourceStatus] { shared.withLock { $0.status } }

    /// Runs `body` with the store and the resources' status, under the cache's lock.
    public func withStore<T>(_ body: (inout Store, [Resource: ResourceStatus]) throws -> T) rethrows -> T {
        try shared.withLock { s in try body(&s.store, s.status) }
    }

    // MARK: Freshness

    /// The API server's current resourceVersion, and when its answer came.
    public struct Probe: Sendable, Equatable {
        public var resourceVersion: UInt64
        public var answeredAt: Deadline
    }

    /// Why the freshness check could not even start (the cache is not synced, or the probe failed).
    public struct ProbeFailure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The freshness check, first half: the API server's current resourceVersion, read with an empty list
    /// at `probePath` (no `resourceVersion`, so served as a quorum read). The second half is
    /// ``waitUntilFresh(_:wait:deadline:)``, until the cache has caught up with it.
    public func probe(_ probePath: String, deadline: Deadline) -> Result<Probe, ProbeFailure> {
        guard isSynced else { return .failure(ProbeFailure(description: "the cluster cache is not synced yet (\(syncDescription))")) }
        do throws(KubeError) {
            let response = try client.request(method: "GET", path: probePath, deadline: deadline)
            guard let v = UInt64(KubeList.metadata(of: response.body).resourceVersion) else {
                return .failure(ProbeFailure(description: "the API server returned no resourceVersion"))
            }
            return .success(Probe(resourceVersion: v, answeredAt: .now()))
        } catch {
            return .failure(ProbeFailure(description: "cannot reach the API server to check the cache is current: \(error)"))
        }
    }

    /// Waits until the cache has caught up with `probed`, at most `wait` from the probe's answer and never
    /// past `deadline`; the quiet time counts from the probe's answer too, so work done after the probe
    /// (reading the Lease, a first decision) overlaps it. Returns nil when fresh, or why not.
    public func waitUntilFresh(_ probed: Probe, wait: Duration, deadline: Deadline) -> String? {
        waitUntilFresh(resourceVersion: probed.resourceVersion, since: probed.answeredAt, wait: min(wait, deadline - probed.answeredAt))
    }

    /// Waits (at most `wait`) until the cache has caught up with `resourceVersion`, read from the API
    /// server with a consistent read whose answer came at `since`. Returns nil when fresh, or why not.
    ///
    /// A resource is caught up when it has seen that resourceVersion. A resource with no change since
    /// (nothing arrives for it) cannot show it; such a resource counts as caught up when it is healthy
    /// (``ResourceStatus/isHealthy(now:maxQuiet:)``: among others, its watch accepted by the API server),
    /// and nothing has arrived for it since `quietAfter` after `since` and `quietAfter` after its watch
    /// was accepted (the time an event already on the wire takes to arrive).
    public func waitUntilFresh(
        resourceVersion: UInt64, since start: Deadline = .now(), wait: Duration = .seconds(1), quietAfter: Duration? = nil
    ) -> String? {
        let quietAfter = quietAfter ?? settings.quietAfter
        let end = start + max(wait, .zero)
        let quiet = start + max(quietAfter, .zero)
        let maxQuiet = settings.maxQuiet
        while true {
            let now = Deadline.now()
            // Polled every 2 ms; nothing is formatted unless the wait gives up. `wakeAt` is the earliest
            // moment a resource can pass as quiet: the poll does not sleep past it.
            let (fresh, wakeAt): (Bool, Deadline) = shared.withLock { s in
                var fresh = true
                var wakeAt = end
                for r in Resource.allCases {
                    switch Self.check(s.status[r]!, resourceVersion: resourceVersion, now: now, quiet: quiet, quietAfter: quietAfter, maxQuiet: maxQuiet) {
                    case .caughtUp: continue
                    case .quietFrom(let t): wakeAt = min(wakeAt, t)
                    case .lagging: break
                    }
                    fresh = false
                }
                return (fresh, wakeAt)
            }
            if fresh { return nil }
            if now >= end { return "the cache is behind the API server: " + lagging(resourceVersion: resourceVersion, now: now, quiet: quiet, quietAfter: quietAfter) }
            let pause = min(Duration.milliseconds(2), wakeAt - now)
            usleep(UInt32(max(pause, .microseconds(100)).totalNanoseconds / 1000))
        }
    }

    private enum Freshness {
        /// Has seen the resourceVersion, or passes as quiet.
        case caughtUp
        /// Passes as quiet from then on unless something arrives meanwhile.
        case quietFrom(Deadline)
        case lagging
    }

    /// Where one resource stands against `resourceVersion` at `now`, in a wait that began at
    /// `quiet - quietAfter`. Quiet counts from the wait's start and from the watch's (re)opening: a watch
    /// opened during the wait replays what happened after its resourceVersion, and that needs the same
    /// time to arrive.
    private static func check(
        _ st: ResourceStatus, resourceVersion: UInt64, now: Deadline, quiet: Deadline, quietAfter: Duration, maxQuiet: Duration
    ) -> Freshness {
        guard st.synced else { return .lagging }
        if st.resourceVersionNumber >= resourceVersion { return .caughtUp }
        let quietFrom = max(quiet, st.watchOpenedAt + quietAfter)
        guard st.isHealthy(now: now, maxQuiet: maxQuiet), st.lastActivity < quietFrom else { return .lagging }
        return now >= quietFrom ? .caughtUp : .quietFrom(quietFrom)
    }

    /// Why the cache is not caught up, resource by resource (for the refusal).
    private func lagging(resourceVersion: UInt64, now: Deadline, quiet: Deadline, quietAfter: Duration) -> String {
        let maxQuiet = settings.maxQuiet
        return shared.withLock { s in
            Resource.allCases.compactMap { r -> String? in
                let st = s.status[r]!
                if case .caughtUp = Self.check(st, resourceVersion: resourceVersion, now: now, quiet: quiet, quietAfter: quietAfter, maxQuiet: maxQuiet) {
                    return nil
                }
                if !st.synced { return "\(r.name) not synced (\(st.lastError ?? "listing"))" }
                let why =
                    !st.watching ? ", watch not connected"
                    : !st.isHealthy(now: now, maxQuiet: maxQuiet) ? ", watch silent for \(Int((now - st.lastLife).inSeconds)) s" : ""
                return "\(r.name) at resourceVersion \(st.resourceVersion), the API server at \(resourceVersion)\(why)"
            }
            .joined(separator: "; ")
        }
    }

    // MARK: Watch loop

    private var isStopped: Bool { shared.withLock { $0.stopped } }

    private func run(_ resource: Resource) {
        var needList = true
        let minBackoff = 0.2
        let maxBackoff = max(0, settings.maxBackoff.inSeconds)
        var backoff = minBackoff
        while !isStopped {
            do throws(KubeError) {
                if needList {
                    try relist(resource)
                    needList = false
                }
                let from = shared.withLock { $0.status[resource]!.resourceVersion }
                let watchStarted = Deadline.now()
                var gone = false
                // The watch counts as open only once the API server has accepted it: until then no event
                // can arrive, and a stream that shows nothing must not pass for a quiet one (right after
                // an API server restart the head can take seconds, while its cache starts).
                let end = try client.watch(
                    resource.path, resourceVersion: from, allowBookmarks: true, timeoutSeconds: settings.watchTimeoutSeconds,
                    onOpen: { setWatching(resource, true) }
                ) { event in
                    if isStopped { return false }
                    if event.type == .error {
                        let error = event.error
                        if error?.isGone == true {
                            gone = true
                        } else {
                            logger.warning("watch error event", metadata: ["resource": "\(resource.name)", "error": "\(error.map { "\($0)" } ?? "?")"])
                        }
                        return false
                    }
                    apply(event, to: resource)
                    return true
                }
                setWatching(resource, false)
                if gone {
                    logger.info("watch expired (410): relisting", metadata: ["resource": "\(resource.name)"])
                    needList = true
                    continue
                }
                if watchStarted.elapsed() < .seconds(1) {
                    // A stream that ends as soon as it starts would make this a hot loop: pace it.
                    sleepUnlessStopped(seconds: backoff * Double.random(in: 0.5...1.5))
                    backoff = min(backoff * 2, maxBackoff)
                } else if end == .serverClosed || end == .deadline {
                    backoff = minBackoff
                }
            } catch {
                setWatching(resource, false)
                if error.isGone {
                    logger.info("resourceVersion too old (410): relisting", metadata: ["resource": "\(resource.name)"])
                    needList = true
                    continue
                }
                shared.withLock { $0.status[resource]!.lastError = "\(error)" }
                logger.warning(
                    "watch failed; retrying",
                    metadata: ["resource": "\(resource.name)", "error": "\(error)", "retryIn": "\(Int(backoff * 1000)) ms"])
                // Back off with jitter so replicas and resources do not retry in step; the cap is short
                // so the cache is current again within seconds of the API server's return.
                sleepUnlessStopped(seconds: backoff * Double.random(in: 0.5...1.5))
                backoff = min(backoff * 2, maxBackoff)
            }
        }
    }

    private func sleepUnlessStopped(seconds: Double) {
        let end = Deadline.now() + .seconds(seconds)
        while !end.hasPassed() && !isStopped { usleep(20_000) }
    }

    private func setWatching(_ resource: Resource, _ watching: Bool) {
        let status = shared.withLock { s -> ResourceStatus in
            s.status[resource]!.watching = watching
            if watching {
                s.status[resource]!.lastError = nil
                s.status[resource]!.watchOpenedAt = .now()
            }
            return s.status[resource]!
        }
        onChange(resource, status)
    }

    /// A paged LIST straight into the store (no JSON tree is built), then removal of what is gone.
    private func relist(_ resource: Resource) throws(KubeError) {
        shared.withLock { s in
            s.status[resource]!.synced = false
            s.store.beginList(resource)
        }
        let started = Deadline.now()
        var token: String?
        var listVersion = ""
        var pages = 0
        repeat {
            var query: [(String, String)] = [("limit", String(settings.pageSize))]
            if let token { query.append(("continue", token)) }
            let response = try client.request(method: "GET", path: KubeClient.appendQuery(resource.path, query))
            let (next, version) = KubeList.metadata(of: response.body)
            if pages == 0 { listVersion = version }
            try shared.withLock { s throws(KubeError) in try s.store.mergeListPage(resource, page: response.body) }
            token = next.isEmpty ? nil : next
            pages += 1
        } while token != nil
        let (status, counts) = shared.withLock { s -> (ResourceStatus, (objects: Int, removed: Int)) in
            let counts = s.store.endList(resource)
            var st = s.status[resource]!
            st.synced = true
            st.resourceVersion = listVersion
            st.resourceVersionNumber = UInt64(listVersion) ?? 0
            st.lastActivity = .now()
            st.lastError = nil
            s.status[resource] = st
            return (st, counts)
        }
        onChange(resource, status)
        logger.info(
            "listed",
            metadata: [
                "resource": "\(resource.name)", "objects": "\(counts.objects)", "removed": "\(counts.removed)", "pages": "\(pages)",
                "resourceVersion": "\(listVersion)", "ms": "\(Int(started.elapsed().inMilliseconds))",
            ])
    }

    private func apply(_ event: KubeWatchEvent, to resource: Resource) {
        let version = event.resourceVersion ?? ""
        var delivered: Duration?
        let status = shared.withLock { s -> ResourceStatus in
            if event.type != .bookmark, s.deliveries[resource] != nil, let number = UInt64(version) {
                delivered = s.deliveries[resource]!.eventArrived(number, now: .now())
            }
            if event.type != .bookmark {
                do throws(KubeError) {
                    try s.store.apply(resource, event: event)
                } catch {
                    logger.warning(
                        "cannot read a watched object",
                        metadata: ["resource": "\(resource.name)", "name": "\(event.namespace)/\(event.name)", "error": "\(error)"])
                }
            }
            var st = s.status[resource]!
            if !version.isEmpty {
                st.resourceVersion = version
                st.resourceVersionNumber = max(st.resourceVersionNumber, UInt64(version) ?? 0)
            }
            st.lastActivity = .now()
            s.status[resource] = st
            return st
        }
        onChange(resource, status)
        if let delivered { reportDeliveries(resource, [delivered]) }
    }

    // MARK: Timing the webhook's own writes

    /// Writes to `resource` are about to be made (and timed with ``wrote(_:_:)``): events that arrive
    /// before their write's answer is read are noted from now on.
    public func expectWrites(to resource: Resource) {
        shared.withLock { s in s.deliveries[resource, default: WriteDeliveryLog()].begin() }
    }

    /// The writes made since ``expectWrites(to:)``, answered: each one's event is timed from its answer
    /// (``Settings/quietAfter`` is what the freshness check assumes it takes at most).
    public func wrote(_ resource: Resource, _ writes: [AnsweredWrite]) {
        let delays = shared.withLock { s in s.deliveries[resource, default: WriteDeliveryLog()].answered(writes, now: .now()) }
        reportDeliveries(resource, delays)
    }

    private func reportDeliveries(_ resource: Resource, _ delays: [Duration]) {
        guard let slowest = delays.max() else { return }
        for delay in delays { onWriteDelivered(resource, delay) }
        guard slowest > settings.quietAfter else { return }
        let now = Deadline.now()
        let warn = shared.withLock { s in
            guard now - s.lastSlowDeliveryWarning >= .seconds(60) else { return false }
            s.lastSlowDeliveryWarning = now
            return true
        }
        if warn {
            logger.warning(
                "a write's event came later than the freshness check's quiet wait allows for: a decision may have missed a change made just before it",
                metadata: [
                    "resource": "\(resource.name)", "delayMs": "\(slowest.inMilliseconds)",
                    "quietAfterMs": "\(settings.quietAfter.inMilliseconds)",
                ])
        }
    }
}
