/// How deep a node is in Temporary Maintenance Mode, read from its maintenance taint.
public enum MaintenanceLevel: String, Sendable, Hashable, Comparable, CaseIterable {
    /// `…=planned-downtime:NoSchedule`: the host will go down; its pods go down with it.
    case plannedDowntime = "planned-downtime"
    /// `…=drain:NoSchedule`: full evacuation.
    case drain = "drain"

    public static func < (a: MaintenanceLevel, b: MaintenanceLevel) -> Bool {
        a == .plannedDowntime && b == .drain
    }

    /// The deepest maintenance level among `taints`, or `nil` when none is a maintenance taint.
    ///
    /// A maintenance taint has a key in `taintKeys`, effect `NoSchedule` and value `planned-downtime`
    /// or `drain`.
    public static func of(_ taints: [Taint], taintKeys: [String]) -> MaintenanceLevel? {
        var level: MaintenanceLevel?
        for taint in taints where taint.effect == "NoSchedule" && taintKeys.contains(taint.key) {
            guard let found = MaintenanceLevel(rawValue: taint.value) else { continue }
            if level == nil || level! < found { level = found }
        }
        return level
    }
}
