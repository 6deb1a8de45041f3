import TMMAdmission
import TMMBase
import TMMPolicy

/// Where the entry pipeline reads the cluster and writes its side effects: the API server (live mode) or
/// an in-memory state (`serve --state`, `review`, tests). ``EntryPipeline`` holds the logic; a backend
/// only reads, records and patches.
protocol EntryBackend: Sendable {
    /// What `begin` read and `commit` writes back: for the API server, the Lease of admitted entries.
    associatedtype Ticket: Sendable

    /// Reads the admitted entries. Fails with the reason the state cannot be known (then the entry is
    /// decided as unknown state). What `withState` shows may still lag behind the cluster: see
    /// `confirm` and `awaitCurrent`.
    func begin(_ entry: EntryRequest, deadline: Deadline) -> Result<Ticket, UnknownState>

    /// Whether the cluster, read at the source, bears out a refusal decided on the state as `withState`
    /// shows it (``RefusalConfirmation``), with `ticket`'s admitted entries counted as pending. False
    /// when it does not or cannot tell; then the entry waits for a current state.
    func confirm(_ confirmation: RefusalConfirmation, ticket: Ticket, taintKeys: [String], deadline: Deadline) -> Bool

    /// Makes sure that what `withState` shows from now on is current. Returns why the state cannot be
    /// known, or nil.
    func awaitCurrent(_ ticket: Ticket, deadline: Deadline) -> UnknownState?

    /// Runs `body` on the current state and the nodes whose entry was admitted but does not show in
    /// that state yet (never `entry`'s own node).
    func withState<T>(_ ticket: Ticket, for entry: EntryRequest, taintKeys: [String], _ body: (ClusterState, Set<String>) -> T) -> T

    /// Records the admitted entry where concurrent deciders count it (compare-and-swap on `ticket`).
    func commit(_ entry: EntryRequest, ticket: Ticket, deadline: Deadline) -> CommitResult

    /// Sets (or, with nil, removes) the failure annotation `key` on `pods`.
    func annotate(_ pods: [PodRef], key: String, value: String?, deadline: Deadline) -> AnnotationOutcome

    /// The pods bound to `node` that carry annotation `key`.
    func pods(onNode node: String, carrying key: String) -> [PodRef]

    /// Whether the backend shows `node` in maintenance now.
    func isInMaintenance(_ node: String) -> Bool

    /// Records the decision where operators look (a Kubernetes Event).
    func recordDecision(node: String, admitted: Bool, message: String)

    /// An allowed entry that is not a dry run, after its effects. In memory, where requests are the only
    /// source of state, the node enters at once; the API server's backend waits for the watch to show it.
    func entryAllowed(_ entry: EntryRequest)

    /// An exit was answered. In memory the node leaves at once; the API server's backend ignores it.
    func exitAnswered(_ request: AdmissionRequest)

    /// The policy changed (its taint keys decide which nodes are in maintenance).
    func policyChanged(_ config: PolicyConfig)

    /// Pods carrying annotation `key` that nothing else will clear: their node is not in maintenance and
    /// the annotation was written longer than `grace` ago.
    func staleAnnotations(key: String, grace: Duration) -> [PodRef]

    /// Sets the function that receives the nodes entering and leaving maintenance, as the backend sees
    /// them happen. Called once, before any decision.
    func observeTransitions(_ handler: @escaping @Sendable ([NodeTransition]) -> Void)
}

/// Why the state cannot be known.
struct UnknownState: Error, Sendable {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}

/// The result of recording an admitted entry.
enum CommitResult: Sendable, Equatable {
    case committed
    /// Someone else wrote first: read again and decide again.
    case conflict
    /// It could not be recorded: the entry is decided as unknown state.
    case failed(String)
}

/// What became of an annotation change, pod by pod.
public struct AnnotationOutcome: Sendable, Equatable {
    public var patched = 0
    /// The pod is gone (nothing to do).
    public var gone = 0
    public var failed = 0
    /// The pod already carried the same value, written recently enough: left as it was, no write.
    public var unchanged = 0
    /// Where the time went, for the log: the slowest and the median write (first try to last), writes
    /// tried again, and connections to the API server opened meanwhile (a handshake each).
    public var timing = Timing()
    public var total: Int { patched + gone + failed + unchanged }
    public init(patched: Int = 0, gone: Int = 0, failed: Int = 0, unchanged: Int = 0, timing: Timing = Timing()) {
        self.patched = patched
        self.gone = gone
        self.failed = failed
        self.unchanged = unchanged
        self.timing = timing
    }

    public struct Timing: Sendable, Equatable {
        public var slowest = Duration.zero
        public var median = Duration.zero
        public var retries = 0
        public var connectionsOpened = 0
        public init() {}
    }
}
