import Logging
import Synchronization
import Testing
@testable import TMMApp
import TMMAdmission
import TMMBase
import TMMPolicy
import TMMTransport

/// A backend that records every call, in order, and answers as scripted: the pipeline's side effects
/// and their order, without sockets.
final class RecordingBackend: EntryBackend {
    typealias Ticket = Int

    struct Script {
        var state: ClusterState
        var unknown: String?
        var commits: [CommitResult] = []
        var inMaintenance: Set<String> = []
        var annotated: [String: [PodRef]] = [:]
        /// What `confirm` answers (nil: the backend was not expected to be asked).
        var confirms: Bool? = nil
        /// The state `withState` shows once `awaitCurrent` has run (nil: the same as before).
        var currentState: ClusterState? = nil
        /// Why `awaitCurrent` finds the state cannot be known (nil: it is current).
        var unknownWhenCurrent: String? = nil
    }

    let script: Locked<Script>
    let calls = Locked<[String]>([])
    let handler = Locked<@Sendable ([NodeTransition]) -> Void>({ _ in })
    private let tickets = Atomic<Int>(0)

    init(_ script: Script) { self.script = Locked(script) }

    private func log(_ call: String) { calls.withLock { $0.append(call) } }

    func begin(_ entry: EntryRequest, deadline: Deadline) -> Result<Int, UnknownState> {
        let ticket = tickets.add(1, ordering: .relaxed).newValue
        log("begin \(entry.request.name) #\(ticket)")
        if let reason = script.withLock({ $0.unknown }) { return .failure(UnknownState(reason)) }
        return .success(ticket)
    }

    func withState<T>(_ ticket: Int, for entry: EntryRequest, taintKeys: [String], _ body: (ClusterState, Set<String>) -> T) -> T {
        log("decide #\(ticket)")
        return body(script.withLock { $0.state }, [])
    }

    func confirm(_ confirmation: RefusalConfirmation, ticket: Int, taintKeys: [String], deadline: Deadline) -> Bool {
        let answer = script.withLock { $0.confirms } ?? false
        log("confirm #\(ticket) \(confirmation.nodes.joined(separator: ",")) \(answer)")
        return answer
    }

    func awaitCurrent(_ ticket: Int, deadline: Deadline) -> UnknownState? {
        log("current #\(ticket)")
        return script.withLock { s in
            if let current = s.currentState { s.state = current }
            return s.unknownWhenCurrent.map(UnknownState.init)
        }
    }

    func commit(_ entry: EntryRequest, ticket: Int, deadline: Deadline) -> CommitResult {
        let result = script.withLock { $0.commits.isEmpty ? CommitResult.committed : $0.commits.removeFirst() }
        log("commit #\(ticket) \(result)")
        return result
    }

    func annotate(_ pods: [PodRef], key: String, value: String?, deadline: Deadline) -> AnnotationOutcome {
        log("annotate \(pods.map(\.description).joined(separator: ",")) \(value ?? "-")")
        return AnnotationOutcome(patched: pods.count)
    }

    func pods(onNode node: String, carrying key: String) -> [PodRef] { script.withLock { $0.annotated[node] ?? [] } }
    func isInMaintenance(_ node: String) -> Bool { script.withLock { $0.inMaintenance.contains(node) } }
    func recordDecision(node: String, admitted: Bool, message: String) { log("event \(node) \(admitted ? "admitted" : "rejected")") }
    func entryAllowed(_ entry: EntryRequest) { log("allowed \(entry.request.name)") }
    func exitAnswered(_ request: AdmissionRequest) { log("exit \(request.name)") }
    func policyChanged(_ config: PolicyConfig) { log("policy") }
    func staleAnnotations(key: String, grace: Duration) -> [PodRef] { [] }
    func observeTransitions(_ handler: @escaping @Sendable ([NodeTransition]) -> Void) { self.handler.withLock { $0 = handler } }

    /// As if the cluster showed these transitions.
    func show(_ transitions: [NodeTransition]) { handler.withLock { $0 }(transitions) }
}

@Suite struct EntryPipelineTests {
    static func pipeline(_ script: RecordingBackend.Script, mode: PolicyConfig.Mode = .enforce) -> (EntryPipeline<RecordingBackend>, RecordingBackend) {
        var config = PolicyConfig.default
        config.mode = mode
        let backend = RecordingBackend(script)
        return (EntryPipeline(backend: backend, config: config, logger: quietLogger(), metrics: nil), backend)
    }

    static func entry(_ node: String, dryRun: Bool = false) -> EntryRequest {
        var request = AdmissionRequest(apiVersion: "admission.k8s.io/v1", uid: "u-\(node)")
        request.kind = "Node"
        request.operation = "UPDATE"
        request.name = node
        request.dryRun = dryRun
        request.newTaints = [Taint(key: "drain", value: "planned-downtime", effect: "NoSchedule")]
        return EntryRequest(request: request, transition: .enter(.plannedDowntime), deadline: .now() + .seconds(5))
    }

    /// n2 in maintenance: an entry of n3 breaks budget store/db (minAvailable 2 of 3).
    static func stateWithN2Down() throws -> ClusterState {
        var state = try fixtureState()
        var n2 = try #require(state.node(named: "n2"))
        n2.taints = [Taint(key: "drain", value: "planned-downtime", effect: "NoSchedule")]
        state.upsert(node: n2)
        return state
    }

    @Test func anAdmittedEntryIsCommittedThenAllowedThenRecorded() throws {
        let (pipeline, backend) = Self.pipeline(RecordingBackend.Script(state: try fixtureState()))
        let decision = pipeline.decideNow(Self.entry("n2"))
        #expect(decision.allowed && decision.reason == nil)
        #expect(
            backend.calls.withLock { $0 } == [
                "begin n2 #1", "decide #1", "current #1", "decide #1", "commit #1 committed", "allowed n2", "event n2 admitted",
            ], "an admission is always decided on a current state")
    }

    @Test func aConflictDecidesAgainOnAFreshRead() throws {
        let (pipeline, backend) = Self.pipeline(RecordingBackend.Script(state: try fixtureState(), commits: [.conflict, .conflict]))
        #expect(pipeline.decideNow(Self.entry("n2")).allowed)
        #expect(
            backend.calls.withLock { $0 } == [
                "begin n2 #1", "decide #1", "current #1", "decide #1", "commit #1 conflict",
                "begin n2 #2", "decide #2", "current #2", "decide #2", "commit #2 conflict",
                "begin n2 #3", "decide #3", "current #3", "decide #3", "commit #3 committed", "allowed n2", "event n2 admitted",
            ])
    }

    @Test func aFailedCommitIsAGenericFailureWithItsPodsAnnotated() throws {
        let (pipeline, backend) = Self.pipeline(RecordingBackend.Script(state: try fixtureState(), commits: [.failed("the Lease is gone")]))
        let decision = pipeline.decideNow(Self.entry("n2"))
        #expect(!decision.allowed)
        #expect(decision.reason == .genericFailure)
        #expect(decision.message?.contains("the Lease is gone") == true)
        #expect(backend.calls.withLock { $0 }.last == "event n2 rejected")
        #expect(!backend.calls.withLock { $0 }.contains("allowed n2"))
    }

    @Test func aDenialAnnotatesBeforeItIsRecordedAndCommitsNothing() throws {
        let (pipeline, backend) = Self.pipeline(RecordingBackend.Script(state: try Self.stateWithN2Down()))
        let decision = pipeline.decideNow(Self.entry("n3"))
        #expect(!decision.allowed)
        #expect(decision.reason == .tooManyExistingFailures, "typed, not parsed from the message")
        #expect(
            backend.calls.withLock { $0 } == [
                "begin n3 #1", "decide #1", "confirm #1 n2 false", "current #1", "decide #1",
                "annotate store/db-2 TooManyExistingFailures", "event n3 rejected",
            ])
    }

    /// Rule 3's refusal, borne out by the nodes as the API server has them, is final without the wait for
    /// a current cache.
    @Test func aRefusalConfirmedAtTheSourceDoesNotWaitForTheCache() throws {
        let (pipeline, backend) = Self.pipeline(RecordingBackend.Script(state: try Self.stateWithN2Down(), confirms: true))
        let decision = pipeline.decideNow(Self.entry("n3"))
        #expect(!decision.allowed && decision.reason == .tooManyExistingFailures)
        #expect(
            backend.calls.withLock { $0 } == [
                "begin n3 #1", "decide #1", "confirm #1 n2 true", "annotate store/db-2 TooManyExistingFailures", "event n3 rejected",
            ])
    }

    /// The cache still shows n2 in maintenance, but the API server has it out (rolling maintenance, its
    /// exit not yet on the watch): not confirmed, so the entry is decided again on the current state and
    /// admitted, and nothing is annotated.
    @Test func aRefusalTheSourceDoesNotBearOutIsDecidedAgainOnTheCurrentState() throws {
        let (pipeline, backend) = Self.pipeline(
            RecordingBackend.Script(state: try Self.stateWithN2Down(), confirms: false, currentState: try fixtureState()))
        let decision = pipeline.decideNow(Self.entry("n3"))
        #expect(decision.allowed && decision.reason == nil)
        #expect(
            backend.calls.withLock { $0 } == [
                "begin n3 #1", "decide #1", "confirm #1 n2 false", "current #1", "decide #1", "commit #1 committed", "allowed n3",
                "event n3 admitted",
            ])
    }

    @Test func aRefusalNotConfirmedOnAStateThatCannotBeKnownFailsClosed() throws {
        let (pipeline, backend) = Self.pipeline(
            RecordingBackend.Script(state: try Self.stateWithN2Down(), confirms: false, unknownWhenCurrent: "the cache is behind"))
        let decision = pipeline.decideNow(Self.entry("n3"))
        #expect(!decision.allowed && decision.reason == .genericFailure)
        #expect(decision.message?.contains("the cache is behind") == true)
        #expect(backend.calls.withLock { $0 }.last == "event n3 rejected")
    }

    @Test func unknownStateFailsClosedWithoutCommitting() throws {
        let (pipeline, backend) = Self.pipeline(RecordingBackend.Script(state: try fixtureState(), unknown: "the cache is behind"))
        let decision = pipeline.decideNow(Self.entry("n2"))
        #expect(!decision.allowed && decision.reason == .genericFailure)
        #expect(backend.calls.withLock { $0 }.filter { $0.hasPrefix("commit") || $0.hasPrefix("allowed") }.isEmpty)
    }

    @Test(arguments: [PolicyConfig.Mode.annotate, .audit])
    func permissiveModesAllowAndCommitButKeepTheReason(_ mode: PolicyConfig.Mode) throws {
        let (pipeline, backend) = Self.pipeline(RecordingBackend.Script(state: try Self.stateWithN2Down()), mode: mode)
        let decision = pipeline.decideNow(Self.entry("n3"))
        #expect(decision.allowed)
        #expect(decision.reason == .tooManyExistingFailures)
        let calls = backend.calls.withLock { $0 }
        #expect(calls.contains("commit #1 committed"), "the node will enter: other entries must count it")
        #expect(calls.contains("annotate store/db-2 TooManyExistingFailures") == (mode == .annotate))
    }

    @Test func dryRunsDecideAndWriteNothing() throws {
        let (pipeline, backend) = Self.pipeline(RecordingBackend.Script(state: try Self.stateWithN2Down()))
        #expect(!pipeline.decideNow(Self.entry("n3", dryRun: true)).allowed)
        #expect(pipeline.decideNow(Self.entry("n2", dryRun: true)).allowed)
        #expect(
            backend.calls.withLock { $0 } == [
                "begin n3 #1", "decide #1", "confirm #1 n2 false", "current #1", "decide #1", "begin n2 #2", "decide #2", "current #2",
                "decide #2",
            ])
    }

    /// Annotations go when the cluster shows a node leave, or enter after a clean admission; a request
    /// claiming an exit changes nothing.
    @Test func annotationsFollowWhatTheClusterShows() throws {
        let db2 = PodRef(namespace: "store", name: "db-2")
        let (pipeline, backend) = Self.pipeline(RecordingBackend.Script(state: try fixtureState(), annotated: ["n3": [db2]]))
        var exit = AdmissionRequest(apiVersion: "admission.k8s.io/v1", uid: "x")
        exit.name = "n3"
        pipeline.exitAnswered(exit)
        pipeline.drain()
        #expect(backend.calls.withLock { $0 } == ["exit n3"], "a request saying n3 left removes nothing")

        // Seen entering without an admission of ours (or after a denial): nothing is cleared.
        backend.show([.entered(node: "n3", resourceVersion: 5)])
        pipeline.drain()
        #expect(backend.calls.withLock { $0 } == ["exit n3"])

        // Seen leaving: its pods' annotations go.
        backend.show([.left(node: "n3")])
        pipeline.drain()
        #expect(backend.calls.withLock { $0 }.last == "annotate store/db-2 -")

        // Admitted cleanly, then seen entering: the old annotations go.
        backend.calls.withLock { $0 = [] }
        #expect(pipeline.decideNow(Self.entry("n3")).allowed)
        #expect(!backend.calls.withLock { $0 }.contains("annotate store/db-2 -"), "not before the cluster shows the entry")
        backend.show([.entered(node: "n3", resourceVersion: 9)])
        pipeline.drain()
        #expect(backend.calls.withLock { $0 }.last == "annotate store/db-2 -")
    }

    @Test func aNodeStillInMaintenanceKeepsItsAnnotationsWhenALeaveArrivesLate() throws {
        let db2 = PodRef(namespace: "store", name: "db-2")
        let (pipeline, backend) = Self.pipeline(
            RecordingBackend.Script(state: try fixtureState(), inMaintenance: ["n3"], annotated: ["n3": [db2]]))
        backend.show([.left(node: "n3")])
        pipeline.drain()
        #expect(backend.calls.withLock { $0 }.isEmpty, "the backend shows n3 back in maintenance by now")
    }
}
