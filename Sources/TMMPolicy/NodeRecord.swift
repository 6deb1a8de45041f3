/// A node as ``ClusterState`` stores it. Ids of nodes are stable: a node name keeps its id even while
/// the node is absent (pods may name a node before it is loaded).
struct NodeRecord: Sendable {
    var name: String
    var present = false
    var labels = LabelSet()
    var taints: [Taint] = []
    var unschedulable = false
    var ready = false
    var allocatable = Resources.zero
    /// Extended resources allocatable, by interned name.
    var extendedAllocatable: [Int32: Int64] = [:]
    /// Sum of the requests of the non-terminal pods bound here.
    var used = Resources.zero
    /// Extended resources requested by the non-terminal pods bound here, by interned name.
    var extendedUsed: [Int32: Int64] = [:]
    /// Pod slots bound here (terminal ones included).
    var pods: Set<Int32> = []
    /// The non-terminal pods bound here that hold host ports.
    var portPods: Set<Int32> = []

    init(name: String) { self.name = name }
}
