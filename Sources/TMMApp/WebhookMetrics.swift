import Glibc

import Prometheus
import Synchronization
import TMMBase
public import TMMKube
public import TMMTransport

/// The webhook's Prometheus metrics, in a private swift-prometheus registry, served at `GET /metrics`.
///
/// Metrics are made on the registry directly (not through swift-metrics, whose API has no help text) so
/// that every family has its `# HELP` line; ``help`` holds the texts, one per metric name.
public final class WebhookMetrics: HTTPServerObserver {
    private let registry = PrometheusCollectorRegistry()

    private let inFlight: Gauge
    private let connections: Gauge
    private let handshakeFailures: Counter
    private let certificateExpiry: Gauge
    private let handles = Locked<Handles>(Handles())
    /// The hot path, made once: `POST /validate` answered 200, and updates that change no taint.
    private let validateOK: (Counter, DurationHistogram)
    private let noneAllowed: Counter
    private let openConnections = Atomic<Int>(0)
    private let inFlightCount = Atomic<Int>(0)

    private struct Handles {
        var requests: [String: Counter] = [:]
        var durations: [String: DurationHistogram] = [:]
        var decisions: [String: Counter] = [:]
        var patches: [String: Counter] = [:]
        var reloads: [String: Counter] = [:]
        var cache: [String: (synced: Gauge, healthy: Gauge, silence: Gauge)] = [:]
        var writeDelays: [String: DurationHistogram] = [:]
    }
    /// Each watched resource's last status, turned into gauges when /metrics is rendered.
    private let cacheStatus = Locked<[String: WatchCache<ClusterStore>.ResourceStatus]>([:])
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
        inFlight = Self.gauge(registry, "tmm_webhook_http_requests_in_flight", [])
        connections = Self.gauge(registry, "tmm_webhook_http_connections", [])
        handshakeFailures = Self.counter(registry, "tmm_webhook_tls_handshake_failures_total", [])
        certificateExpiry = Self.gauge(registry, "tmm_webhook_certificate_expiry_timestamp_seconds", [])
        validateOK = (
            Self.counter(registry, "tmm_webhook_http_requests_total", [("path", "/validate"), ("code", "200")]),
            Self.histogram(registry, "tmm_webhook_http_request_duration_seconds", [("path", "/validate")])
        )
        noneAllowed = Self.counter(registry, "tmm_webhook_decisions_total", [("transition", "none"), ("result", "allowed"), ("reason", "")])
        inFlight.set(0.0)
        connections.set(0.0)
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

    public func responded(path: Substring, method: Substring, status: Int, duration: Duration) {
        if status == 200 && path == "/validate" {
            validateOK.0.increment()
            validateOK.1.recordNanoseconds(duration.totalNanoseconds)
            return
        }
        // Unknown paths share one label, so a scanner cannot blow up the series count.
        let label = Self.knownPaths.contains(path) ? String(path) : "other"
        let (counter, timer) = handles.withLock { h -> (Counter, DurationHistogram) in
            let key = "\(label) \(status)"
            let counter = h.requests[key] ?? {
                let c = Self.counter(registry, "tmm_webhook_http_requests_total", [("path", label), ("code", String(status))])
                h.requests[key] = c
                return c
            }()
            let timer = h.durations[label] ?? {
                let t = Self.histogram(registry, "tmm_webhook_http_request_duration_seconds", [("path", label)])
                h.durations[label] = t
                return t
            }()
            return (counter, timer)
        }
        counter.increment()
        timer.recordNanoseconds(duration.totalNanoseconds)
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

    /// Annotation patches by outcome (`applied`, `removed`, `failed`, `gone`, and `unchanged`: a pod that
    /// already carried the reason, written recently, left without a write).
    public func annotationPatched(outcome: String, count: Int = 1) {
        counter(
            in: \.patches, key: outcome, label: "tmm_webhook_annotation_patches_total", dimensions: [("outcome", outcome)]
        ).increment(by: Int64(count))
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
                Self.gauge(registry, "tmm_webhook_cache_synced", [("resource", resource)]),
                Self.gauge(registry, "tmm_webhook_cache_healthy", [("resource", resource)]),
                Self.gauge(registry, "tmm_webhook_cache_silence_seconds", [("resource", resource)])
            )
        }
        cacheStatus.withLock { $0[resource] = status }
    }

    /// Updates the cache gauges (called when /metrics is rendered).
    private func refreshCacheGauges() {
        let now = Deadline.now()
        let statuses = cacheStatus.withLock { $0 }
        let gauges = handles.withLock { $0.cache }
        for (resource, status) in statuses {
            guard let gauge = gauges[resource] else { continue }
            gauge.synced.set(status.synced ? 1.0 : 0.0)
            gauge.healthy.set(status.isHealthy(now: now, maxQuiet: cacheMaxQuiet) ? 1.0 : 0.0)
            gauge.silence.record(status.lastLife == .distantPast ? -1 : (now - status.lastLife).inSeconds)
        }
    }

    /// How long after the webhook's own write (an annotation patch) was answered its event came on the
    /// watch: `tmm_webhook_watch_write_delay_seconds`. The freshness check assumes at most its quiet wait
    /// (`--freshness-quiet`, 100 ms by default); alert when the p99 comes near it.
    public func writeDelivered(resource: String, delay: Duration) {
        let histogram = handles.withLock { h in
            if let existing = h.writeDelays[resource] { return existing }
            let made = Self.histogram(registry, "tmm_webhook_watch_write_delay_seconds", [("resource", resource)])
            h.writeDelays[resource] = made
            return made
        }
        histogram.recordNanoseconds(delay.totalNanoseconds)
    }

    /// A policy reload attempt.
    public func policyReloaded(success: Bool) {
        counter(
            in: \.reloads, key: success ? "policy success" : "policy failure", label: "tmm_webhook_policy_reloads_total",
            dimensions: [("result", success ? "success" : "failure")]
        ).increment()
    }

    private func counter(
        in path: WritableKeyPath<Handles, [String: Counter]>, key: String, label: String, dimensions: [(String, String)]
    ) -> Counter {
        handles.withLock { h in
            if let c = h[keyPath: path][key] { return c }
            let c = Self.counter(registry, label, dimensions)
            h[keyPath: path][key] = c
            return c
        }
    }

    // MARK: Help texts

    /// The `# HELP` text of every metric, by name. A metric made without an entry here is a programming
    /// error (CommandLineTests and LiveServeTests scrape /metrics and check every family has one).
    static let help: [String: String] = [
        "tmm_webhook_http_requests_total": "HTTP requests answered, by path (unknown paths as other) and status code.",
        "tmm_webhook_http_request_duration_seconds": "Time from a request's first byte to its answer being written, by path.",
        "tmm_webhook_http_requests_in_flight": "Requests read and not yet answered.",
        "tmm_webhook_http_connections": "Open client connections, TLS handshakes included.",
        "tmm_webhook_tls_handshake_failures_total": "TLS handshakes that failed (bad client, protocol or certificate).",
        "tmm_webhook_decisions_total": "Admission reviews answered, by transition (enter, escalate, exit, none, not-node-update), result and failure reason.",
        "tmm_webhook_annotation_patches_total": "Failure-annotation patches on pods, by outcome (applied, removed, gone, failed).",
        "tmm_webhook_certificate_expiry_timestamp_seconds": "When the serving certificate expires, in Unix seconds.",
        "tmm_webhook_certificate_reloads_total": "Reloads of the serving certificate after its files changed, by result.",
        "tmm_webhook_policy_reloads_total": "Reloads of the policy file after it changed, by result.",
        "tmm_webhook_cache_synced": "1 when the watch cache holds a complete list of the resource, else 0 (live mode).",
        "tmm_webhook_cache_healthy": "1 when the freshness check would trust the resource's quiet watch stream (synced, watching, alive within the quiet limit), else 0; alert on 0.",
        "tmm_webhook_watch_write_delay_seconds": "Time from the answer to one of the webhook's own writes (an annotation patch) to its event on the watch, by resource; the freshness check assumes at most its quiet wait (--freshness-quiet, 100 ms by default).",
        "tmm_webhook_cache_silence_seconds": "Seconds since the resource's watch stream last showed life (event, bookmark, list or reopened watch); -1 before the first.",
    ]

    private static func descriptor(_ name: String) -> MetricNameDescriptor {
        guard let text = help[name] else { preconditionFailure("metric \(name) has no help text in WebhookMetrics.help") }
        return MetricNameDescriptor(metricName: name, unitName: "", helpText: text)
    }

    private static func counter(_ registry: PrometheusCollectorRegistry, _ name: String, _ labels: [(String, String)]) -> Counter {
        registry.makeCounter(descriptor: descriptor(name), labels: labels)
    }

    private static func gauge(_ registry: PrometheusCollectorRegistry, _ name: String, _ labels: [(String, String)]) -> Gauge {
        registry.makeGauge(descriptor: descriptor(name), labels: labels)
    }

    private static func histogram(
        _ registry: PrometheusCollectorRegistry, _ name: String, _ labels: [(String, String)]
    ) -> DurationHistogram {
        registry.makeDurationHistogram(descriptor: descriptor(name), labels: labels, buckets: durationBuckets)
    }
}
