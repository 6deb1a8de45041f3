/// What a Node update does to the node's maintenance state.
public enum Transition: Sendable, Equatable {
    /// The node gains a maintenance taint, at this level.
    case enter(MaintenanceLevel)
    /// The node loses its last maintenance taint.
    case exit
    /// The node goes deeper, to this level: `planned-downtime` becomes `drain`, or a `NoSchedule`
    /// maintenance taint becomes (or is joined by) a `NoExecute` one.
    case escalate(MaintenanceLevel)
    /// Anything else: labels, other taints, `PreferNoSchedule`, the same level again, or a step back
    /// (`drain` to `planned-downtime`, `NoExecute` to `NoSchedule`: the node stays in maintenance and
    /// whatever was evicted is gone already, so nothing new can break).
    case none

    /// Classifies a Node update from the taints of the old and the new object.
    public static func classify(old: [Taint], new: [Taint], taintKeys: [String]) -> Transition {
        let before = MaintenanceLevel.of(old, taintKeys: taintKeys)
        let after = MaintenanceLevel.of(new, taintKeys: taintKeys)
        switch (before, after) {
        case (nil, let level?): return .enter(level)
        case (_?, nil): return .exit
        case (let b?, let a?) where b < a: return .escalate(a)
        default: return .none
        }
    }

    /// The level the node reaches, for entries and escalations.
    public var level: MaintenanceLevel? {
        switch self {
        case .enter(let level), .escalate(let level): return level
        case .exit, .none: return nil
        }
    }

    /// The name used in logs and metrics: `enter`, `escalate`, `exit`, `none`.
    public var name: String {
        switch self {
        case .enter: return "enter"
        case .escalate: return "escalate"
        case .exit: return "exit"
        case .none: return "none"
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
