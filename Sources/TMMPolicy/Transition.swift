// Interim: the policy engine branch replaces this file with the full taint model.

/// A Node taint.
public struct Taint: Sendable, Hashable {
    public var key: String
    public var value: String
    public var effect: String

    public init(key: String, value: String = "", effect: String) {
        self.key = key
        self.value = value
        self.effect = effect
    }
}

/// How deep a maintenance goes.
public enum MaintenanceLevel: String, Sendable, Equatable {
    /// `planned-downtime`: the host comes back; workloads may wait.
    case plannedDowntime = "planned-downtime"
    /// `drain`: full evacuation.
    case drain
}

/// What a Node update does to its maintenance state.
public enum Transition: Sendable, Equatable {
    case enter(MaintenanceLevel)
    case exit
    case escalate
    case none

    /// The maintenance level a set of taints puts a node in, if any (the deepest wins).
    public static func level(of taints: [Taint], taintKeys: [String]) -> MaintenanceLevel? {
        var level: MaintenanceLevel?
        for taint in taints where taint.effect == "NoSchedule" && taintKeys.contains(taint.key) {
            guard let l = MaintenanceLevel(rawValue: taint.value) else { continue }
            if l == .drain { return .drain }
            level = l
        }
        return level
    }

    /// Compares the maintenance taints before and after an update.
    public static func classify(old: [Taint], new: [Taint], taintKeys: [String]) -> Transition {
        switch (level(of: old, taintKeys: taintKeys), level(of: new, taintKeys: taintKeys)) {
        case (nil, nil): .none
        case (nil, let l?): .enter(l)
        case (_?, nil): .exit
        case (.plannedDowntime?, .drain?): .escalate
        default: .none
        }
    }
}
