/// The TMM policy (the YAML file given with `--config`). Every key is optional.
public struct PolicyConfig: Sendable, Equatable {
    /// What the server does with a denial. The verdict itself never depends on it.
    public enum Mode: String, Sendable, Equatable, CaseIterable {
        /// Deny the entry and annotate the pods.
        case enforce
        /// Allow the entry, annotate the pods.
        case annotate
        /// Allow the entry, only warn.
        case audit
    }

    /// Which rules run.
    public struct Checks: Sendable, Equatable {
        /// Rule 5, PodDisruptionBudgets.
        public var quorum: Bool
        /// Rule 6, room for the evicted pods.
        public var capacity: Bool

        /// Creates the checks (both on by default).
        public init(quorum: Bool = true, capacity: Bool = true) {
            self.quorum = quorum
            self.capacity = capacity
        }
    }

    /// What the server does with a denial.
    public var mode: Mode
    /// Nodes in maintenance at once, the entering one included (at least 1).
    public var maxNodesInMaintenance: Int
    /// The pod annotation that carries the failure reason.
    public var annotationKey: String
    /// Taint keys that mark maintenance.
    public var taintKeys: [String]
    /// Node label naming a failure domain; empty disables rule 4.
    public var failureDomainLabel: String
    /// Pods in scope (the empty selector: all).
    public var podSelector: LabelSelector
    /// Which of rules 5 and 6 run.
    public var checks: Checks
    /// Unknown state denies entries (GenericFailure) instead of allowing them.
    public var failClosed: Bool

    /// The defaults of the issue.
    public init(
        mode: Mode = .enforce, maxNodesInMaintenance: Int = 1, annotationKey: String = "emm-failure",
        taintKeys: [String] = ["drain", "node.vmware.com/drain", "node.dell.com/drain"],
        failureDomainLabel: String = "", podSelector: LabelSelector = .everything, checks: Checks = Checks(),
        failClosed: Bool = true
    ) {
        self.mode = mode
        self.maxNodesInMaintenance = maxNodesInMaintenance
        self.annotationKey = annotationKey
        self.taintKeys = taintKeys
        self.failureDomainLabel = failureDomainLabel
        self.podSelector = podSelector
        self.checks = checks
        self.failClosed = failClosed
    }

    /// The default policy.
    public static let `default` = PolicyConfig()
}
