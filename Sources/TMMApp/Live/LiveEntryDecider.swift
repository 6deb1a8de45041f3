import Dispatch
import Glibc
import Logging
import Synchronization
import TMMAdmission
import TMMJSON
import TMMKube
import TMMPolicy
import TMMTransport

/// Decides entries against the live cluster: a fresh watch cache, the replicas' shared ledger of
/// admitted entries, annotations patched before the answer, an Event per decision.
final class LiveEntryDecider: EntryDecider {
    struct Settings: Sendable {
        /// An admitted entry counts as a node in maintenance until its taint is seen, or this long.
        var pendingTTL: Duration = .seconds(60)
        /// How long a decision waits for the cache to catch up with the API server.
        var freshnessWait: Duration = .seconds(1)
        /// Annotations on pods of nodes not in maintenance are removed after this long.
        var annotationGrace: Duration = .seconds(600)
        /// Our own namespace (for the Lease) and pod name (for Events and the Lease holder).
        var namespace: String = "tmm-system"
        var podName: String = "tmm-webhook"
        var leaseName: String = "tmm-webhook-entries"
    }

    let cache: ClusterCache
    private let settings: Settings
    private let policy: Mutex<(config: PolicyConfig, engine: PolicyEngine)>
    private let queue = DispatchQueue(label: "tmm-webhook.entries")
    private let ledger: EntryLedger
    private let annotator: PodAnnotator
    private let events: EventRecorder
    private let logger: Logger
    private let metrics: WebhookMetrics?

    init(cache: ClusterCache, config: PolicyConfig, settings: Settings, logger: Logger, metrics: WebhookMetrics?) {
        self.cache = cache
        self.settings = settings
        self.policy = Mutex((config, PolicyEngine(config: config)))
        self.ledger = EntryLedger(client: cache.client, namespace: settings.namespace, name: settings.leaseName, holder: settings.podName)
        self.annotator = PodAnnotator(client: cache.client)
        self.events = EventRecorder(client: cache.client, reportingInstance: settings.podName, logger: logger)
        self.logger = logger
        self.metrics = metrics
    }

    var config: PolicyConfig { policy.withLock { $0.config } }

    func update(config: PolicyConfig) { policy.withLock { $0 = (config, PolicyEngine(config: config)) } }

    /// Records that a new policy was refused, on the policy ConfigMap.
    func policyRejected(_ message: String, configMap: String) {
        events.recordPolicyRejected(namespace: settings.namespace, configMap: configMap, message: message)
    }

    func decide(_ entry: EntryRequest, completion: @escaping @Sendable (AdmissionDecision) -> Void) {
        queue.async { [self] in completion(decideNow(entry)) }
    }

    func exited(_ request: AdmissionRequest, deadline: UInt64, completion: @escaping @Sendable () -> Void) {
        // From the cache alone when no pod of the node carries the annotation (the usual case): then
        // the exit is answered without touching the API server.
        queue.async { [self] in
            clearAnnotations(onNode: request.name, deadline: deadline, why: "node left maintenance")
            completion()
        }
    }

    /// Decides one entry on the caller's thread (the serial queue, or a test).
    func decideNow(_ entry: EntryRequest) -> AdmissionDecision {
        let request = entry.request
        let (config, engine) = policy.withLock { $0 }
        let now = Int64(time(nil))
        // Leave a little of the budget for the annotation patches after the decision.
        let decisionDeadline = min(entry.deadline, MonotonicClock.now() &+ 2_000_000_000)
        var view: StateView? = nil
        if let problem = freshnessProblem(deadline: decisionDeadline) { view = .unknown(reason: problem) }

        var verdict: Verdict
        var attempts = 0
        while true {
            attempts += 1
            var pending: Set<String> = []
            var snapshot: EntryLedger.Snapshot?
            if view == nil {
                do throws(KubeError) {
                    snapshot = try ledger.read(now: now, deadline: decisionDeadline)
                    pending = Set(snapshot!.entries.keys)
                } catch {
                    view = .unknown(reason: "cannot read the admitted-entries Lease: \(error)")
                }
            }
            pending.remove(request.name)
            verdict = cache.withState { state, _ in
                // Entries whose taint the cache already shows are in maintenance anyway.
                let stillPending = pending.filter { node in
                    state.node(named: node).map { MaintenanceLevel.of($0.taints, taintKeys: config.taintKeys) == nil } ?? true
                }
                return engine.decide(
                    DecisionInput(node: request.name, transition: entry.transition, state: view ?? .known(state), pendingEntries: stillPending))
            }
            guard verdict.allowed, !request.dryRun, let snapshot, view == nil else { break }
            // Record the admission so other replicas count it; a conflict means someone else wrote first.
            var entries = snapshot.entries
            entries[request.name] = now + Int64(settings.pendingTTL.components.seconds)
            do throws(KubeError) {
                try ledger.write(snapshot, entries: entries, deadline: decisionDeadline)
                break
            } catch {
                if error.isConflict && attempts < 10 && MonotonicClock.now() < decisionDeadline { continue }
                view = .unknown(reason: "cannot record the admitted entry in the Lease: \(error)")
                verdict = engine.decide(DecisionInput(node: request.name, transition: entry.transition, state: view!))
                break
            }
        }

        var outcome = EntryOutcome(verdict: verdict, config: config, dryRun: request.dryRun)
        if !request.dryRun {
            if outcome.decision.allowed {
                clearAnnotations(onNode: request.name, deadline: entry.deadline, why: "entry admitted")
            }
            if outcome.annotate, let reason = verdict.reason {
                let result = annotator.annotate(verdict.relatedPods, key: config.annotationKey, value: reason.rawValue, now: now, deadline: entry.deadline)
                metrics?.annotationPatched(outcome: "applied", count: result.patched)
                metrics?.annotationPatched(outcome: "gone", count: result.gone)
                metrics?.annotationPatched(outcome: "failed", count: result.failed)
                cache.withState { state, _ in
                    for pod in verdict.relatedPods {
                        _ = state.setAnnotation(namespace: pod.namespace, pod: pod.name, key: config.annotationKey, value: reason.rawValue)
                        _ = state.setAnnotation(namespace: pod.namespace, pod: pod.name, key: PodAnnotator.writtenAtKey, value: String(now))
                    }
                }
                logger.notice(
                    "annotated pods", metadata: [
                        "node": "\(request.name)", "annotation": "\(config.annotationKey)=\(reason.rawValue)",
                        "patched": "\(result.patched)", "gone": "\(result.gone)", "failed": "\(result.failed)",
                    ])
                if result.failed > 0, !outcome.decision.allowed {
                    outcome.decision.message = (outcome.decision.message ?? "") + " (\(result.failed) of \(result.total) pods could not be annotated)"
                }
            }
            events.record(node: request.name, admitted: outcome.decision.allowed, message: outcome.decision.message ?? verdict.message)
        }
        return outcome.decision
    }

    /// Nil when the cache is fresh enough to decide on; otherwise why not.
    private func freshnessProblem(deadline: UInt64) -> String? {
        guard cache.isSynced else { return "the cluster cache is not synced yet (\(cache.syncDescription))" }
        // A consistent (quorum) read of an empty list gives the API server's current resourceVersion.
        let probe = "/api/v1/namespaces/\(settings.namespace)/pods?fieldSelector=metadata.name%3D__tmm_resource_version_probe__&limit=1"
        let version: UInt64
        do throws(KubeError) {
            let response = try cache.client.request(method: "GET", path: probe, deadline: deadline)
            guard let v = UInt64(ClusterCache.listMetadata(response.body).resourceVersion) else {
                return "the API server returned no resourceVersion"
            }
            version = v
        } catch {
            return "cannot reach the API server to check the cache is current: \(error)"
        }
        let remaining = deadline > MonotonicClock.now() ? Duration.nanoseconds(Int64(deadline - MonotonicClock.now())) : .zero
        return cache.waitUntilFresh(resourceVersion: version, wait: min(settings.freshnessWait, remaining))
    }

    /// Removes the failure annotation from the pods of `node` that carry it (API and cache).
    private func clearAnnotations(onNode node: String, deadline: UInt64, why: String) {
        let key = config.annotationKey
        let pods: [PodRef] = cache.withState { state, _ in
            state.pods(onNode: node).filter { state.annotation(namespace: $0.namespace, pod: $0.name, key: key) != nil }
        }
        guard !pods.isEmpty else { return }
        let result = annotator.annotate(pods, key: key, value: nil, now: Int64(time(nil)), deadline: deadline)
        cache.withState { state, _ in
            for pod in pods {
                _ = state.setAnnotation(namespace: pod.namespace, pod: pod.name, key: key, value: nil)
                _ = state.setAnnotation(namespace: pod.namespace, pod: pod.name, key: PodAnnotator.writtenAtKey, value: nil)
            }
        }
        metrics?.annotationPatched(outcome: "removed", count: result.patched)
        logger.notice(
            "removed annotations", metadata: ["node": "\(node)", "annotation": "\(key)", "removed": "\(result.patched)", "failed": "\(result.failed)", "why": "\(why)"])
    }

    /// One reconciler pass: removes annotations nothing else will (node not in maintenance, older than
    /// the grace period: missed exits, a webhook that was down). Returns how many pods it cleared.
    @discardableResult
    func reconcile() -> Int {
        let config = self.config
        let now = Int64(time(nil))
        let grace = Int64(settings.annotationGrace.components.seconds)
        let stale: [PodRef] = cache.withState { state, _ in
            state.pods(annotatedWith: config.annotationKey).compactMap { entry in
                if let node = entry.node, let n = state.node(named: node), MaintenanceLevel.of(n.taints, taintKeys: config.taintKeys) != nil {
                    return nil  // still in maintenance: the annotation may still be true
                }
                let writtenAt = state.annotation(namespace: entry.pod.namespace, pod: entry.pod.name, key: PodAnnotator.writtenAtKey)
                    .flatMap { Int64($0) } ?? 0
                return now - writtenAt >= grace ? entry.pod : nil
            }
        }
        guard !stale.isEmpty else { return 0 }
        let deadline = MonotonicClock.now() &+ 30_000_000_000
        let result = queue.sync { annotator.annotate(stale, key: config.annotationKey, value: nil, now: now, deadline: deadline) }
        cache.withState { state, _ in
            for pod in stale {
                _ = state.setAnnotation(namespace: pod.namespace, pod: pod.name, key: config.annotationKey, value: nil)
                _ = state.setAnnotation(namespace: pod.namespace, pod: pod.name, key: PodAnnotator.writtenAtKey, value: nil)
            }
        }
        metrics?.annotationPatched(outcome: "removed", count: result.patched)
        logger.notice(
            "reconciler removed stale annotations",
            metadata: ["pods": "\(stale.map(\.description).joined(separator: ","))", "removed": "\(result.patched)", "failed": "\(result.failed)"])
        return result.patched
    }
}
