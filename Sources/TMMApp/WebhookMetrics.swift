import CoreMetrics
import Glibc

import Prometheus
import Synchronization
public import TMMKube
public import TMMTransport

/// The webhook's Prometheus metrics, recorded through swift-metrics into a private swift-prometheus
/// registry and served at `GET /metrics`.
public final class WebhookMetrics: HTTPServerObserver {
    private let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory

    private let inFlight: CoreMetrics.Gauge
    private let connections: CoreMetrics.Gauge
    private let handshakeFailures: CoreMetrics.Counter
    private let certificateExpiry: CoreMetrics.Gauge
    private let handles = Mutex<Handles>(Handles())
    /// The hot path, made once: `POST /validate` answered 200, and updates that change no taint.
    private let validateOK: (CoreMetrics.Counter, CoreMetrics.Timer)
    private let noneAllowed: CoreMetrics.Counter
    private let openConnections = Atomic<Int>(0)
    private let inFlightCount = Atomic<Int>(0)

    private struct Handles {
        var requests: [String: CoreMetrics.Counter] = [:]
        var durations: [String: CoreMetrics.Timer] = [:]
        var decisions: [String: CoreMetrics.Counter] = [:]
        var patches: [String: CoreMetrics.Counter] = [:]
        var reloads: [String: CoreMetrics.Counter] = [:]
        var cache: [String: (synced: CoreMetrics.Gauge, healthy: CoreMetrics.Gauge, silence: CoreMetrics.Gauge)] = [:]
    }
    /// Each watched resource's last status, turned into gauges when /metrics is rendered.
    private let cacheStatus = Mutex<[String: WatchCache<ClusterStore>.ResourceStatus]>([:])
    /// How long a quiet watch stays trusted (the cache's setting): the same test as the freshness check.
    public let cacheMaxQuiet: Duration = WatchCache<ClusterStore>.Settings().maxQuiet

    /// Request latency buckets, 100 µs to 10 s.
    static let durationBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2500),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    static let knownPaths: Set<Substring> = ["/validate", "/healthz", "/livez", "/readyz", "/metrics"]

    public init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.durationBuckets
        self.factory = factory
        inFlight = CoreMetrics.Gauge(label: "tmm_webhook_http_requests_in_flight", dimensions: [], factory: factory)
        connections = CoreMetrics.Gauge(label: "tmm_webhook_http_connections", dimensions: [], factory: factory)
        handshakeFailures = CoreMetrics.Counter(label: "tmm_webhook_tls_handshake_failures_total", dimensions: [], factory: factory)
        certificateExpiry = CoreMetrics.Gauge(label: "tmm_webhook_certificate_expiry_timestamp_seconds", dimensions: [], factory: factory)
        validateOK = (
            CoreMetrics.Counter(label: "tmm_webhook_http_requests_total", dimensions: [("path", "/validate"), ("code", "200")], factory: factory),
            CoreMetrics.Timer(label: "tmm_webhook_http_request_duration_seconds", dimensions: [("path", "/validate")], factory: factory)
        )
        noneAllowed = CoreMetrics.Counter(
            label: "tmm_webhook_decisions_total", dimensions: [("transition", "none"), ("result", "allowed"), ("reason", "")],
            factory: factory)
        inFlight.record(0)
        connections.record(0)
        handles.withLock { h in
            h.requests["/validate 200"] = validateOK.0
            h.durations["/validate"] = validateOK.1
            h.decisions["none true "] = noneAllowed
        }
    }

    /// The Prometheus text exposition of every metric.
    public func render() -> [UInt8] {
        refreshCacheGauges()
        var buffer: [UInt8] = []
        buffer.reserveCapacity(8192)
        registry.emit(into: &buffer)
        return buffer
    }

    // MARK: HTTP (called on event-loop threads)

    public func requestStarted(path: Substring) {
        inFlight.record(Double(inFlightCount.add(1, ordering: .relaxed).newValue))
    }

    public func requestFinished(path: Substring) {
        inFlight.record(Double(inFlightCount.subtract(1, ordering: .relaxed).newValue))
    }

    public func responded(path: Substring, method: Substring, status: Int, durationNanoseconds: UInt64) {
        if status == 200 && path == "/validate" {
            validateOK.0.increment()
            validateOK.1.recordNanoseconds(Int64(durationNanoseconds))
            return
        }
        // Unknown paths share one label, so a scanner cannot blow up the series count.
        let label = Self.knownPaths.contains(path) ? String(path) : "other"
        let (counter, timer) = handles.withLock { h -> (CoreMetrics.Counter, CoreMetrics.Timer) in
            let key = "\(label) \(status)"
            let counter = h.requests[key] ?? {
                let c = CoreMetrics.Counter(
                    label: "tmm_webhook_http_requests_total", dimensions: [("path", label), ("code", String(status))],
                    factory: factory)
                h.requests[key] = c
                return c
            }()
            let timer = h.durations[label] ?? {
                let t = CoreMetrics.Timer(label: "tmm_webhook_http_request_duration_seconds", dimensions: [("path", label)], factory: factory)
                h.durations[label] = t
                return t
            }()
            return (counter, timer)
        }
        counter.increment()
        timer.recordNanoseconds(Int64(durationNanoseconds))
    }

    public func connectionsChanged(by delta: Int) {
        connections.record(Double(openConnections.add(delta, ordering: .relaxed).newValue))
    }

    public func handshakeFailed(reason: String) {
        handshakeFailures.increment()
    }

    // MARK: Decisions, annotations, certificates

    /// One review answered: `transition` enter/escalate/exit/none/not-node-update, allowed or not, and the reason.
    public func decided(transition: String, allowed: Bool, reason: String) {
        if allowed && transition == "none" {
            noneAllowed.increment()
            return
        }
        counter(
            in: \.decisions, key: "\(transition) \(allowed) \(reason)", label: "tmm_webhook_decisions_total",
            dimensions: [("transition", transition), ("result", allowed ? "allowed" : "denied"), ("reason", reason)]
        ).increment()
    }

    /// Annotation patches by outcome (`applied`, `removed`, `failed`, `gone`).
    public func annotationPatched(outcome: String, count: Int = 1) {
        counter(
            in: \.patches, key: outcome, label: "tmm_webhook_annotation_patches_total", dimensions: [("outcome", outcome)]
        ).increment(by: count)
    }

    /// A certificate (re)load: its expiry, and whether it succeeded.
    public func certificateLoaded(notAfter: Int64?, success: Bool, initial: Bool = false) {
        if let notAfter { certificateExpiry.record(Double(notAfter)) }
        guard !initial else { return }
        counter(
            in: \.reloads, key: success ? "success" : "failure", label: "tmm_webhook_certificate_reloads_total",
            dimensions: [("result", success ? "success" : "failure")]
        ).increment()
    }

    /// The watch cache's state for `resource`. Gauges: `tmm_webhook_cache_synced`,
    /// `tmm_webhook_cache_healthy` (1 when the freshness check would trust a quiet stream: synced, watching
    /// and alive within the quiet limit; alert on 0) and `tmm_webhook_cache_silence_seconds` (since the
    /// stream last showed life: an event, a bookmark, a list or a reopened watch; bounded by the watch's
    /// reopen interval while healthy, however quiet the resource).
    public func cacheActivity(resource: String, status: WatchCache<ClusterStore>.ResourceStatus) {
        // The gauges are recorded when /metrics is rendered (refreshCacheGauges); here they are only created.
        handles.withLock { h in
            if h.cache[resource] != nil { return }
            h.cache[resource] = (
                CoreMetrics.Gauge(label: "tmm_webhook_cache_synced", dimensions: [("resource", resource)], factory: factory),
                CoreMetrics.Gauge(label: "tmm_webhook_cache_healthy", dimensions: [("resource", resource)], factory: factory),
                CoreMetrics.Gauge(label: "tmm_webhook_cache_silence_seconds", dimensions: [("resource", resource)], factory: factory)
            )
        }
        cacheStatus.withLock { $0[resource] = status }
    }

    /// Updates the cache gauges (called when /metrics is rendered).
    private func refreshCacheGauges() {
        let now = MonotonicClock.now()
        let statuses = cacheStatus.withLock { $0 }
        let gauges = handles.withLock { $0.cache }
        for (resource, status) in statuses {
            guard let gauge = gauges[resource] else { continue }
            gauge.synced.record(status.synced ? 1 : 0)
            gauge.healthy.record(status.isHealthy(now: now, maxQuiet: cacheMaxQuiet) ? 1 : 0)
            gauge.silence.record(status.lastLife == 0 ? -1 : Double(now &- status.lastLife) / 1e9)
        }
    }

    /// A policy reload attempt.
    public func policyReloaded(success: Bool) {
        counter(
            in: \.reloads, key: success ? "policy success" : "policy failure", label: "tmm_webhook_policy_reloads_total",
            dimensions: [("result", success ? "success" : "failure")]
        ).increment()
    }

    private func counter(
        in path: WritableKeyPath<Handles, [String: CoreMetrics.Counter]>, key: String, label: String, dimensions: [(String, String)]
    ) -> CoreMetrics.Counter {
        handles.withLock { h in
            if let c = h[keyPath: path][key] { return c }
            let c = CoreMetrics.Counter(label: label, dimensions: dimensions, factory: factory)
            h[keyPath: path][key] = c
            return c
        }
    }
}
