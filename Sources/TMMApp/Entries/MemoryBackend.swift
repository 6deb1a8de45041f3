import Logging
import TMMAdmission
import TMMBase
import TMMPolicy

/// The entry pipeline's backend for a state held in memory: a snapshot loaded with `serve --state`, or
/// none at all (then every entry is decided as unknown state).
///
/// There is no cluster to observe here, so requests are the only source of state: an allowed entry
/// taints the node in memory, an exit removes the taint, and annotations change in memory only (and are
/// logged).
final class MemoryBackend: EntryBackend {
    typealias Ticket = Void

    private struct Shared {
        var state: ClusterState?
        var taintKeys: [String]
        var onTransitions: @Sendable ([NodeTransition]) -> Void = { _ in }
    }

    private let shared: Locked<Shared>
    private let unknownReason: String
    private let logger: Logger

    init(state: ClusterState?, unknownReason: String, taintKeys: [String], logger: Logger) {
        self.shared = Locked(Shared(state: state, taintKeys: taintKeys))
        self.unknownReason = unknownReason
        self.logger = logger
    }

    /// The current in-memory state (tests and diagnostics).
    var snapshot: ClusterState? { shared.withLock { $0.state } }

    func begin(_ entry: EntryRequest, deadline: Deadline) -> Result<Void, UnknownState> {
        shared.withLock { $0.state == nil } ? .failure(UnknownState(unknownReason)) : .success(())
    }

    /// The state in memory is the only one there is: what it shows is current.
    func confirm(_ confirmation: RefusalConfirmation, ticket: Void, taintKeys: [String], deadline: Deadline) -> Bool { true }

    func awaitCurrent(_ ticket: Void, deadline: Deadline) -> UnknownState? { nil }

    func withState<T>(_ ticket: Void, for entry: EntryRequest, taintKeys: [String], _ body: (ClusterState, Set<String>) -> T) -> T {
        shared.withLock { body($0.state ?? ClusterState(), []) }
    }

    /// Entries are decided one at a time and applied at once: nothing else can have taken the slot.
    func commit(_ entry: EntryRequest, ticket: Void, deadline: Deadline) -> CommitResult { .committed }

    func annotate(_ pods: [PodRef], key: String, value: String?, deadline: Deadline) -> AnnotationOutcome {
        let changed = shared.withLock { s -> Int in
            guard var state = s.state else { return 0 }
            var count = 0
            for pod in pods where state.setAnnotation(namespace: pod.namespace, pod: pod.name, key: key, value: value) { count += 1 }
            s.state = state
            return count
        }
        logger.debug(
            "annotations changed in memory (no API server in snapshot mode)",
            metadata: ["annotation": "\(key)=\(value ?? "(removed)")", "pods": "\(pods.map(\.description).joined(separator: ","))"])
        return AnnotationOutcome(patched: changed, gone: pods.count - changed)
    }

    func pods(onNode node: String, carrying key: String) -> [PodRef] {
        shared.withLock { s in
            guard let state = s.state else { return [] }
            return state.pods(onNode: node).filter { state.annotation(namespace: $0.namespace, pod: $0.name, key: key) != nil }
        }
    }

    func isInMaintenance(_ node: String) -> Bool {
        shared.withLock { s in
            s.state?.node(named: node).flatMap { MaintenanceLevel.of($0.taints, taintKeys: s.taintKeys) } != nil
        }
    }

    func recordDecision(node: String, admitted: Bool, message: String) {}

    func entryAllowed(_ entry: EntryRequest) { setTaints(entry.request) }

    func exitAnswered(_ request: AdmissionRequest) { setTaints(request) }

    /// The request's new taints become the node's, and the change of maintenance is reported.
    private func setTaints(_ request: AdmissionRequest) {
        let (transition, handler) = shared.withLock { s -> (NodeTransition?, @Sendable ([NodeTransition]) -> Void) in
            guard var state = s.state, var node = state.node(named: request.name) else { return (nil, s.onTransitions) }
            let before = MaintenanceLevel.of(node.taints, taintKeys: s.taintKeys) != nil
            node.taints = request.newTaints
            let after = MaintenanceLevel.of(node.taints, taintKeys: s.taintKeys) != nil
            state.upsert(node: node)
            s.state = state
            guard before != after else { return (nil, s.onTransitions) }
            return (after ? .entered(node: request.name, resourceVersion: 0) : .left(node: request.name), s.onTransitions)
        }
        if let transition { handler([transition]) }
    }

    func policyChanged(_ config: PolicyConfig) { shared.withLock { $0.taintKeys = config.taintKeys } }

    /// Nothing goes stale in memory: exits clear at once.
    func staleAnnotations(key: String, grace: Duration) -> [PodRef] { [] }

    func observeTransitions(_ handler: @escaping @Sendable ([NodeTransition]) -> Void) {
        shared.withLock { $0.onTransitions = handler }
    }
}
