/// How deep a node is in Temporary Maintenance Mode, read from its maintenance taints.
///
/// A maintenance taint has a key in the policy's `taintKeys`, the value `planned-downtime` or `drain`,
/// and the effect `NoSchedule` or `NoExecute`. The levels are ordered by how many pods must leave and how
/// fast: `planned-downtime:NoSchedule` < `drain:NoSchedule` < any value with `NoExecute`.
///
/// `PreferNoSchedule` is not maintenance: the scheduler only prefers other nodes, nothing is evicted and
/// nothing is kept off, so such a taint is neither reviewed nor counted.
public enum MaintenanceLevel: String, Sendable, Hashable, Comparable, CaseIterable {
    /// `…=planned-downtime:NoSchedule`: the host will go down; its pods go down with it.
    case plannedDowntime = "planned-downtime"
    /// `…=drain:NoSchedule`: full evacuation.
    case drain = "drain"
    /// `…=planned-downtime:NoExecute` or `…=drain:NoExecute`: every pod that does not tolerate the taint
    /// is evicted at once, without regard to PodDisruptionBudgets. For the rules it is a full evacuation
    /// (like ``drain``), and the deepest level.
    case evict = "NoExecute"

    private var rank: Int {
        switch self {
        case .plannedDowntime: return 0
        case .drain: return 1
        case .evict: return 2
        }
    }

    public static func < (a: MaintenanceLevel, b: MaintenanceLevel) -> Bool { a.rank < b.rank }

    /// True when every pod of the node must leave it (``drain`` and ``evict``); false for
    /// ``plannedDowntime``, where pods may wait for their node to come back.
    public var evacuates: Bool { self != .plannedDowntime }

    /// How an operator writes the taint, e.g. `planned-downtime:NoSchedule` or `NoExecute`.
    public var taintDescription: String {
        switch self {
        case .plannedDowntime: return "planned-downtime:NoSchedule"
        case .drain: return "drain:NoSchedule"
        case .evict: return "NoExecute"
        }
    }

    /// The level `taint` stands for, whatever its key, or `nil` when its value or effect is not a
    /// maintenance one. The caller checks the key against the policy's `taintKeys`.
    public init?(taint: Taint) {
        guard taint.value == "planned-downtime" || taint.value == "drain" else { return nil }
        switch taint.effect {
        case "NoSchedule": self = taint.value == "drain" ? .drain : .plannedDowntime
        case "NoExecute": self = .evict
        default: return nil  // PreferNoSchedule, or anything else: not maintenance
        }
    }

    /// The deepest maintenance level among `taints`, or `nil` when none is a maintenance taint.
    public static func of(_ taints: [Taint], taintKeys: [String]) -> MaintenanceLevel? {
        var level: MaintenanceLevel?
        for taint in taints where taintKeys.contains(taint.key) {
            guard let found = MaintenanceLevel(taint: taint) else { continue }
            if level == nil || level! < found { level = found }
        }
        return level
    }
}
