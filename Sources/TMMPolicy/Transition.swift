/// What a Node update does to the node's maintenance state.
public enum Transition: Sendable, Equatable {
    /// The node gains a maintenance taint.
    case enter(MaintenanceLevel)
    /// The node loses its last maintenance taint.
    case exit
    /// `planned-downtime` becomes `drain`.
    case escalate
    /// Anything else (labels, other taints, the same level again, drain back to planned-downtime).
    case none

    /// Classifies a Node update from the taints of the old and the new object.
    public static func classify(old: [Taint], new: [Taint], taintKeys: [String]) -> Transition {
        let before = MaintenanceLevel.of(old, taintKeys: taintKeys)
        let after = MaintenanceLevel.of(new, taintKeys: taintKeys)
        switch (before, after) {
        case (nil, let level?): return .enter(level)
        case (_?, nil): return .exit
        case (.plannedDowntime?, .drain?): return .escalate
        default: return .none
        }
    }

    /// True for the transitions the policy must check (entries and escalations).
    public var needsCheck: Bool {
        switch self {
        case .enter, .escalate: return true
        case .exit, .none: return false
        }
    }
}
