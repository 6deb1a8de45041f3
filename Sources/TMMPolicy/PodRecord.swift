/// A pod as ``ClusterState`` stores it: about 100 bytes plus its label pairs.
struct PodRecord: Sendable {
    var name: String
    var namespace: Int32
    /// Node id, or -1 while unscheduled.
    var node: Int32
    var labels: LabelSet
    var requests: Resources
    var profile: Int32
    var phase: Pod.Phase
    var ready: Bool
    var daemonSetOwned: Bool
    var mirror: Bool
    var present: Bool

    var isTerminal: Bool { phase == .succeeded || phase == .failed }
}
