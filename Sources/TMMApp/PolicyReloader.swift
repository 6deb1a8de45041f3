import Logging
import TMMBase
import TMMPolicy
import TMMTransport

/// Re-reads the policy file (a mounted ConfigMap) and applies a changed, valid policy without a restart.
/// A policy that does not load keeps the previous one in force; it is logged once and counted.
final class PolicyReloader: Sendable {
    private let path: String
    private let apply: @Sendable (PolicyConfig) -> Void
    private let logger: Logger
    private let metrics: WebhookMetrics?
    private let state: Locked<(loaded: [UInt8], rejected: [UInt8]?, task: PeriodicTask?)>
    private let interval: Duration
    /// Told why a new policy was refused (live mode records an Event).
    private let onRejected: @Sendable (String) -> Void

    init(
        path: String, initialContents: [UInt8], interval: Duration = .seconds(5), logger: Logger,
        metrics: WebhookMetrics?, onRejected: @escaping @Sendable (String) -> Void = { _ in },
        apply: @escaping @Sendable (PolicyConfig) -> Void
    ) {
        self.onRejected = onRejected
        self.path = path
        self.apply = apply
        self.logger = logger
        self.metrics = metrics
        self.interval = interval
        state = Locked((initialContents, nil, nil))
    }

    func start() {
        let task = PeriodicTask(name: "tmm-policyreload", interval: interval) { [self] in checkNow() }
        state.withLock { $0.task = task }
        task.start()
    }

    func stop() { state.withLock { $0.task }?.stop() }

    /// Checks the file once; true when a new policy was applied.
    @discardableResult
    func checkNow() -> Bool {
        guard let contents = try? readFile(path) else { return false }  // mid-swap: next time
        let (same, rejected) = state.withLock { ($0.loaded == contents, $0.rejected == contents) }
        if same || rejected { return false }
        do {
            let config = try PolicyConfig.load(yaml: String(decoding: contents, as: UTF8.self))
            apply(config)
            state.withLock {
                $0.loaded = contents
                $0.rejected = nil
            }
            logger.notice(
                "policy reloaded",
                metadata: [
                    "path": "\(path)", "mode": "\(config.mode.rawValue)", "maxNodesInMaintenance": "\(config.maxNodesInMaintenance)",
                    "taintKeys": "\(config.taintKeys.joined(separator: ","))",
                ])
            metrics?.policyReloaded(success: true)
            return true
        } catch {
            state.withLock { $0.rejected = contents }
            logger.error("new policy is invalid; the previous policy stays in force", metadata: ["path": "\(path)", "error": "\(error)"])
            metrics?.policyReloaded(success: false)
            onRejected("new policy refused, the previous one stays in force: \(error)")
            return false
        }
    }
}
