import Dispatch
import Logging
import Synchronization
import TMMAdmission
import TMMPolicy

/// Decides entries from an in-memory cluster state: a snapshot loaded with `--state`, or none at all
/// (then every entry is a `GenericFailure` under `failClosed`).
///
/// Entries are decided one at a time on a serial queue, so two entries arriving together cannot both
/// take the last maintenance slot. An admitted entry taints the node in the in-memory state, an exit
/// removes the taint; annotations are applied to the in-memory pods and logged (there is no API server
/// to patch in this mode).
final class SnapshotEntryDecider: EntryDecider {
    private let policy: Mutex<(config: PolicyConfig, engine: PolicyEngine)>
    private let state: Mutex<ClusterState?>

    /// The current in-memory state (for tests and diagnostics).
    var snapshot: ClusterState? { state.withLock { $0 } }
    private let unknownReason: String
    private let queue = DispatchQueue(label: "tmm-webhook.entries")
    private let logger: Logger

    private let metrics: WebhookMetrics?

    init(config: PolicyConfig, state: ClusterState?, unknownReason: String, logger: Logger, metrics: WebhookMetrics? = nil) {
        self.metrics = metrics
        self.policy = Mutex((config, PolicyEngine(config: config)))
        self.state = Mutex(state)
        self.unknownReason = unknownReason
        self.logger = logger
    }

    /// The policy in force.
    var config: PolicyConfig { policy.withLock { $0.config } }

    /// Replaces the policy for decisions from now on (a reloaded ConfigMap).
    func update(config: PolicyConfig) {
        policy.withLock { $0 = (config, PolicyEngine(config: config)) }
    }

    func decide(_ entry: EntryRequest, completion: @escaping @Sendable (AdmissionDecision) -> Void) {
        queue.async { [self] in
            completion(decideNow(entry))
        }
    }

    /// Decides synchronously (on the caller's thread); used by the queue and by `tmm-webhook review`.
    func decideNow(_ entry: EntryRequest) -> AdmissionDecision {
        let request = entry.request
        let (config, engine) = policy.withLock { $0 }
        return state.withLock { state -> AdmissionDecision in
            let view: StateView = state.map { .known($0) } ?? .unknown(reason: unknownReason)
            let verdict = engine.decide(DecisionInput(node: request.name, transition: entry.transition, state: view))
            let outcome = EntryOutcome(verdict: verdict, config: config, dryRun: request.dryRun)
            guard !request.dryRun, var current = state else { return outcome.decision }
            if outcome.decision.allowed {
                // The node is in maintenance now: later entries count it, and old failures on its pods go
                // (before this entry's own annotations, in annotate mode, are written).
                clearAnnotations(onNode: request.name, in: &current, why: "entry admitted")
                if var node = current.node(named: request.name) {
                    node.taints = request.newTaints
                    current.upsert(node: node)
                }
            }
            if outcome.annotate, let reason = verdict.reason {
                var count = 0
                for pod in verdict.relatedPods
                where current.setAnnotation(namespace: pod.namespace, pod: pod.name, key: config.annotationKey, value: reason.rawValue) {
                    count += 1
                }
                metrics?.annotationPatched(outcome: "applied", count: count)
                logger.notice(
                    "annotated pods (in memory: no API server in snapshot mode)",
                    metadata: [
                        "node": "\(request.name)", "annotation": "\(config.annotationKey)=\(reason.rawValue)",
                        "pods": "\(verdict.relatedPods.map(\.description).joined(separator: ","))", "count": "\(count)",
                    ])
            }
            state = current
            return outcome.decision
        }
    }

    func exited(_ request: AdmissionRequest, deadline: UInt64, completion: @escaping @Sendable () -> Void) {
        queue.async { [self] in
            exitNow(request)
            completion()
        }
    }

    /// Applies an exit synchronously: the node's taint goes, and so do its pods' failure annotations.
    func exitNow(_ request: AdmissionRequest) {
        state.withLock { state in
            guard var current = state else { return }
            clearAnnotations(onNode: request.name, in: &current, why: "node left maintenance")
            if var node = current.node(named: request.name) {
                node.taints = request.newTaints
                current.upsert(node: node)
            }
            state = current
        }
    }

    private func clearAnnotations(onNode node: String, in state: inout ClusterState, why: String) {
        let (config, engine) = policy.withLock { $0 }
        let pods = engine.podsToClear(onNode: node, state: state)
        guard !pods.isEmpty else { return }
        for pod in pods { _ = state.setAnnotation(namespace: pod.namespace, pod: pod.name, key: config.annotationKey, value: nil) }
        metrics?.annotationPatched(outcome: "removed", count: pods.count)
        logger.notice(
            "removed annotations (in memory)",
            metadata: ["node": "\(node)", "annotation": "\(config.annotationKey)", "pods": "\(pods.map(\.description).joined(separator: ","))", "why": "\(why)"])
    }
}

/// What the server does with a verdict, by policy mode.
struct EntryOutcome {
    var decision: AdmissionDecision
    /// Whether the related pods get the failure annotation.
    var annotate: Bool

    init(verdict: Verdict, config: PolicyConfig, dryRun: Bool) {
        let reason = verdict.reason?.rawValue ?? ""
        var audit: [(String, String)] = [("verdict", verdict.allowed ? "allowed" : reason)]
        if dryRun { audit.append(("dry-run", "true")) }
        switch (config.mode, verdict.allowed) {
        case (_, true):
            decision = AdmissionDecision(allowed: true, warnings: verdict.warnings, auditAnnotations: audit)
            annotate = false
        case (.enforce, false):
            decision = AdmissionDecision(allowed: false, message: verdict.message, warnings: verdict.warnings, auditAnnotations: audit)
            annotate = true
        case (.annotate, false):
            decision = AdmissionDecision(
                allowed: true, warnings: ["annotate mode: allowed, but \(verdict.message)"] + verdict.warnings,
                auditAnnotations: audit)
            annotate = true
        case (.audit, false):
            decision = AdmissionDecision(
                allowed: true, warnings: ["audit mode: would deny: \(verdict.message)"] + verdict.warnings,
                auditAnnotations: audit)
            annotate = false
        }
        if dryRun { annotate = false }
    }
}
