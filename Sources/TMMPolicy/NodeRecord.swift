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
    /// Sum of the requests of the non-terminal pods bound here.
    var used = Resources.zero
    /// Pod slots bound here (terminal ones included).
    var pods: Set<Int32> = []

    init(name: String) { self.name = name }
}
