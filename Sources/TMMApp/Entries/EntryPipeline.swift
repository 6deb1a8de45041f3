import Dispatch
import Glibc
import Logging
import TMMAdmission
import TMMBase
import TMMPolicy
import TMMTransport

/// Decides maintenance entries, one at a time, the same way over any ``EntryBackend``:
///
/// read (pending entries) → pure decision on the state as it is → a refusal the backend confirms at the
/// source stands; anything else: view (current, or unknown) → pure decision again → policy mode → commit
/// (compare-and-swap, retried on conflict) → effects (annotations, Event).
///
/// Side effects that are not the answer to an entry follow what the backend shows happened, never what a
/// request claims: a node's failure annotations are removed when the node is seen leaving maintenance,
/// or seen entering it after an entry admitted without failure.
///
/// Everything runs on one serial queue, so two entries arriving together cannot both take the last
/// maintenance slot of this replica, and annotations are changed in the order decisions were made.
final class EntryPipeline<Backend: EntryBackend>: EntryDecider {
    let backend: Backend
    private let policy: Locked<(config: PolicyConfig, engine: PolicyEngine)>
    private let queue = DispatchQueue(label: "tmm-webhook.entries")
    private let queueKey = DispatchSpecificKey<Bool>()
    /// Nodes whose entry this replica admitted without failure, until the backend shows them enter
    /// (their earlier failure annotations then go) or the entry's deadline (plus the margin) passes.
    private let cleanAdmissions = Locked<[String: Deadline]>([:])
    private let logger: Logger
    private let metrics: WebhookMetrics?
    /// How long after its deadline an admitted entry may still show up in the cluster.
    static var admissionMargin: Duration { .seconds(5) }

    init(backend: Backend, config: PolicyConfig, logger: Logger, metrics: WebhookMetrics?) {
        self.backend = backend
        self.policy = Locked((config, PolicyEngine(config: config)))
        self.logger = logger
        self.metrics = metrics
        queue.setSpecific(key: queueKey, value: true)
        backend.observeTransitions { [weak self] transitions in self?.received(transitions) }
    }

    /// The policy in force.
    var config: PolicyConfig { policy.withLock { $0.config } }

    /// Replaces the policy for decisions from now on (a reloaded ConfigMap).
    func update(config: PolicyConfig) {
        policy.withLock { $0 = (config, PolicyEngine(config: config)) }
        backend.policyChanged(config)
    }

    func decide(_ entry: EntryRequest, completion: @escaping @Sendable (AdmissionDecision) -> Void) {
        queue.async { [self] in completion(decideOnQueue(entry)) }
    }

    /// Decides one entry and waits for it (tests, `review`).
    func decideNow(_ entry: EntryRequest) -> AdmissionDecision {
        queue.sync { decideOnQueue(entry) }
    }

    func exitAnswered(_ request: AdmissionRequest) {
        queue.async { [self] in backend.exitAnswered(request) }
    }

    /// Waits until everything queued so far is done (tests).
    func drain() { queue.sync {} }

    // MARK: The pipeline

    private func decideOnQueue(_ entry: EntryRequest) -> AdmissionDecision {
        let request = entry.request
        let (config, engine) = policy.withLock { $0 }
        // Leave a little of the budget for the annotation patches after the decision.
        let decisionDeadline = min(entry.deadline, .now() + .seconds(2))
        func unknown(_ reason: String) -> Verdict {
            engine.decide(DecisionInput(node: request.name, transition: entry.transition, state: .unknown(reason: reason)))
        }

        var verdict: Verdict
        var attempts = 0
        // Where an entry's time goes (logged at info): the view (freshness check and Lease read), the
        // commit, the annotations.
        var viewTime = Duration.zero
        var commitTime = Duration.zero
        var annotateTime = Duration.zero
        // How the last view was had: "current" (the cache checked against the API server) or "confirmed"
        // (a refusal borne out at the source).
        var view = "none"
        decision: while true {
            attempts += 1
            let ticket: Backend.Ticket
            let viewStarted = Deadline.now()
            switch backend.begin(entry, deadline: decisionDeadline) {
            case .failure(let state):
                viewTime += Deadline.now() - viewStarted
                verdict = unknown(state.reason)
                break decision
            case .success(let t):
                ticket = t
            }
            func decide() -> Verdict {
                backend.withState(ticket, for: entry, taintKeys: config.taintKeys) { state, pending in
                    engine.decide(
                        DecisionInput(node: request.name, transition: entry.transition, state: .known(state), pendingEntries: pending))
                }
            }
            // A refusal the cluster's own objects bear out needs no wait for the cache (rule 3: enough
            // other nodes in maintenance, read at the source). Anything else is decided on a current state.
            verdict = decide()
            if let confirmation = verdict.confirmation,
                backend.confirm(confirmation, ticket: ticket, taintKeys: config.taintKeys, deadline: decisionDeadline)
            {
                view = "confirmed"
            } else {
                view = "current"
                if let problem = backend.awaitCurrent(ticket, deadline: decisionDeadline) {
                    viewTime += Deadline.now() - viewStarted
                    verdict = unknown(problem.reason)
                    break decision
                }
                verdict = decide()
            }
            viewTime += Deadline.now() - viewStarted
            let outcome = EntryOutcome(verdict: verdict, mode: config.mode, dryRun: request.dryRun)
            guard outcome.decision.allowed, !request.dryRun else { break decision }
            let commitStarted = Deadline.now()
            let committed = backend.commit(entry, ticket: ticket, deadline: decisionDeadline)
            commitTime += Deadline.now() - commitStarted
            switch committed {
            case .committed:
                break decision
            case .conflict where attempts < 10 && !decisionDeadline.hasPassed():
                continue decision
            case .conflict:
                verdict = unknown("the admitted entries kept changing under \(attempts) attempts to record this one")
            case .failed(let why):
                verdict = unknown(why)
            }
            break decision
        }

        var outcome = EntryOutcome(verdict: verdict, mode: config.mode, dryRun: request.dryRun)
        guard !request.dryRun else { return outcome.decision }
        let now = Deadline.now()
        cleanAdmissions.withLock { admissions in
            admissions = admissions.filter { $0.value > now }
            if outcome.isClean {
                admissions[request.name] = entry.deadline + max(Self.admissionMargin, .zero)
            } else {
                admissions[request.name] = nil
            }
        }
        if outcome.annotate, let reason = verdict.reason {
            let annotateStarted = Deadline.now()
            let result = backend.annotate(verdict.relatedPods, key: config.annotationKey, value: reason.rawValue, deadline: entry.deadline)
            annotateTime = Deadline.now() - annotateStarted
            let annotateMs = annotateTime.inMilliseconds
            metrics?.annotationPatched(outcome: "applied", count: result.patched)
            metrics?.annotationPatched(outcome: "gone", count: result.gone)
            metrics?.annotationPatched(outcome: "failed", count: result.failed)
            metrics?.annotationPatched(outcome: "unchanged", count: result.unchanged)
            logger.notice(
                "annotated pods",
                metadata: [
                    "node": "\(request.name)", "annotation": "\(config.annotationKey)=\(reason.rawValue)",
                    "pods": "\(verdict.relatedPods.prefix(20).map(\.description).joined(separator: ","))",
                    "patched": "\(result.patched)", "gone": "\(result.gone)", "failed": "\(result.failed)",
                    "unchanged": "\(result.unchanged)",
                    "ms": "\(annotateMs)", "slowestMs": "\(result.timing.slowest.inMilliseconds)",
                    "medianMs": "\(result.timing.median.inMilliseconds)", "retries": "\(result.timing.retries)",
                    "newConnections": "\(result.timing.connectionsOpened)",
                ])
            if result.failed > 0, !outcome.decision.allowed {
                outcome.decision.message = (outcome.decision.message ?? "") + " (\(result.failed) of \(result.total) pods could not be annotated)"
            }
        }
        logger.info(
            "entry phases",
            metadata: [
                "node": "\(request.name)", "allowed": "\(outcome.decision.allowed)", "attempts": "\(attempts)",
                "view": "\(view)", "viewMs": "\(viewTime.inMilliseconds)", "commitMs": "\(commitTime.inMilliseconds)",
                "annotateMs": "\(annotateTime.inMilliseconds)",
            ])
        if outcome.decision.allowed { backend.entryAllowed(entry) }
        backend.recordDecision(node: request.name, admitted: outcome.decision.allowed, message: outcome.decision.message ?? verdict.message)
        return outcome.decision
    }

    // MARK: What the backend saw happen

    private func received(_ transitions: [NodeTransition]) {
        guard !transitions.isEmpty else { return }
        if DispatchQueue.getSpecific(key: queueKey) == true {
            handle(transitions)
        } else {
            queue.async { [self] in handle(transitions) }
        }
    }

    private func handle(_ transitions: [NodeTransition]) {
        let now = Deadline.now()
        for transition in transitions {
            switch transition {
            case .left(let node):
                cleanAdmissions.withLock { $0[node] = nil }
                // Seen out of maintenance: its pods' failure annotations are obsolete.
                guard !backend.isInMaintenance(node) else { continue }
                clearAnnotations(onNode: node, why: "node left maintenance")
            case .entered(let node, _):
                let admitted = cleanAdmissions.withLock { $0.removeValue(forKey: node) }
                // Seen entering after this replica admitted it without failure: earlier failures are obsolete.
                guard let admitted, admitted > now else { continue }
                clearAnnotations(onNode: node, why: "entry admitted and seen in the cluster")
            }
        }
    }

    private func clearAnnotations(onNode node: String, why: String) {
        let key = config.annotationKey
        let pods = backend.pods(onNode: node, carrying: key)
        guard !pods.isEmpty else { return }
        let result = backend.annotate(pods, key: key, value: nil, deadline: .now() + .seconds(30))
        metrics?.annotationPatched(outcome: "removed", count: result.patched)
        logger.notice(
            "removed annotations",
            metadata: [
                "node": "\(node)", "annotation": "\(key)", "pods": "\(pods.prefix(20).map(\.description).joined(separator: ","))",
                "removed": "\(result.patched)", "failed": "\(result.failed)", "why": "\(why)",
            ])
    }

    /// One reconciler pass: removes the annotations nothing else will (node not in maintenance, written
    /// longer than `grace` ago: missed transitions, a webhook that was down). Returns how many it removed.
    @discardableResult
    func reconcile(grace: Duration) -> Int {
        queue.sync {
            let key = config.annotationKey
            let stale = backend.staleAnnotations(key: key, grace: grace)
            guard !stale.isEmpty else { return 0 }
            let result = backend.annotate(stale, key: key, value: nil, deadline: .now() + .seconds(30))
            metrics?.annotationPatched(outcome: "removed", count: result.patched)
            logger.notice(
                "reconciler removed stale annotations",
                metadata: [
                    "pods": "\(stale.prefix(20).map(\.description).joined(separator: ","))", "removed": "\(result.patched)",
                    "failed": "\(result.failed)",
                ])
            return result.patched
        }
    }
}
