import Testing
import TMMApp
import TMMBase
import TMMKube
import TMMTransport

/// The cache gauges say what the freshness check trusts: a quiet but healthy watch raises no alarm,
/// a stalled or broken one does.
@Suite struct CacheHealthMetricsTests {
    static func gauge(_ text: String, _ name: String, _ resource: String) -> Double? {
        let prefix = "\(name){resource=\"\(resource)\"} "
        return text.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Double($0.dropFirst(prefix.count)) }
    }

    @Test func quietButHealthyIsHealthyAndStalledIsNot() {
        let metrics = WebhookMetrics()
        let now = Deadline.now()
        // Budgets: no event for 10 minutes, but the watch was reopened 30 s ago (it is reopened every 120 s).
        var quiet = WatchCache<ClusterStore>.ResourceStatus()
        quiet.synced = true
        quiet.watching = true
        quiet.lastActivity = now - .seconds(600)
        quiet.watchOpenedAt = now - .seconds(30)
        metrics.cacheActivity(resource: "poddisruptionbudgets", status: quiet)
        // Nodes: the stream is open but has shown no life for 200 s (stalled without closing).
        var stalled = quiet
        stalled.watchOpenedAt = now - .seconds(200)
        stalled.lastActivity = now - .seconds(200)
        metrics.cacheActivity(resource: "nodes", status: stalled)
        // Pods: the watch is down (API server unreachable).
        var down = quiet
        down.watching = false
        metrics.cacheActivity(resource: "pods", status: down)

        let text = String(decoding: metrics.render(), as: UTF8.self)
        #expect(Self.gauge(text, "tmm_webhook_cache_healthy", "poddisruptionbudgets") == 1)
        let silence = Self.gauge(text, "tmm_webhook_cache_silence_seconds", "poddisruptionbudgets") ?? -1
        // 30 s plus however long this test took to get here (a busy machine runs other tests in parallel):
        // the upper bound only has to tell 30 s from the 600 s since the last event.
        #expect(silence >= 30 && silence < 300, "since the reopened watch, not the last event: \(silence)")
        #expect(Self.gauge(text, "tmm_webhook_cache_healthy", "nodes") == 0)
        #expect((Self.gauge(text, "tmm_webhook_cache_silence_seconds", "nodes") ?? 0) >= 200)
        #expect(Self.gauge(text, "tmm_webhook_cache_healthy", "pods") == 0)
        #expect(Self.gauge(text, "tmm_webhook_cache_synced", "pods") == 1)
    }
}
