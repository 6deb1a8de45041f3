/// What each rule found; ``CheckReport`` renders it.
public struct Findings: Sendable, Equatable {
    /// Rule 3: other nodes in maintenance or with a pending entry.
    public var nodesInMaintenance: [String] = []
    /// Rule 3: the configured maximum.
    public var maxNodesInMaintenance = 1
    /// Rule 4, when a failure-domain label is configured.
    public var failureDomain: DomainFinding?
    /// Rule 5: every budget covering an in-scope pod of the node.
    public var budgets: [BudgetFinding] = []
    /// Rule 6: where each in-scope pod would go (`node` nil: it fits nowhere).
    public var placements: [Placement] = []
    /// Whether rules 5 and 6 ran.
    public var quorumChecked = false
    /// Whether rule 6 ran.
    public var capacityChecked = false
    /// The in-scope pods on the node.
    public var podsInScope: [PodRef] = []
    /// Pods on the node left out (DaemonSet, mirror, terminal, outside `podSelector`).
    public var podsOutOfScope = 0

    /// Empty findings.
    public init() {}
}

/// Rule 4's view of failure domains.
public struct DomainFinding: Sendable, Equatable {
    /// The node label naming domains.
    public var label: String
    /// This node's domain (empty when it has no such label).
    public var domain: String
    /// Down nodes in other domains, with their domain.
    public var conflicts: [String: String]
}

/// One PodDisruptionBudget's arithmetic.
public struct BudgetFinding: Sendable, Equatable {
    /// The budget's namespace.
    public var namespace: String
    /// The budget's name.
    public var name: String
    /// Matching non-terminal pods.
    public var expected: Int
    /// Matching pods Ready, on a node not down, not on this node.
    public var healthy: Int
    /// What the budget requires.
    public var required: Int
    /// `minAvailable 2`, `maxUnavailable 25%`.
    public var rule: String
    /// The in-scope pods of this node that it covers.
    public var podsOnNode: [PodRef]
    /// healthy >= required.
    public var satisfied: Bool { healthy >= required }
}

/// Where one evicted pod would go.
public struct Placement: Sendable, Equatable {
    /// The pod.
    public var pod: PodRef
    /// Its requests (cpu, memory, one pod slot).
    public var requests: Resources
    /// The node chosen, or nil.
    public var node: String?
    /// Why it fits nowhere: the filter that refused it on each kind of node.
    public var lacking: String?
    /// Set when the pod does not move but waits for its node (at `planned-downtime`, a pod whose
    /// volume only this node can reach): the volume.
    public var waitsFor: String?

    /// Creates a placement.
    public init(pod: PodRef, requests: Resources, node: String?, lacking: String?, waitsFor: String? = nil) {
        self.pod = pod
        self.requests = requests
        self.node = node
        self.lacking = lacking
        self.waitsFor = waitsFor
    }

    /// True when the pod has to move and can go nowhere.
    public var stranded: Bool { node == nil && waitsFor == nil }
}
