/// The facts about a Node that the policy reads. A transient value: ``ClusterState`` stores it compactly.
public struct Node: Sendable, Hashable {
    /// `metadata.name`.
    public var name: String
    /// `metadata.labels`.
    public var labels: [String: String]
    /// `spec.taints`.
    public var taints: [Taint]
    /// `spec.unschedulable` (cordoned).
    public var unschedulable: Bool
    /// The `Ready` condition is `True`.
    public var ready: Bool
    /// `status.allocatable` cpu, memory and pods.
    public var allocatable: Resources
    /// `status.allocatable` extended resources (`nvidia.com/gpu`, `hugepages-2Mi`, …), by name.
    public var extendedAllocatable: [String: Int64]

    /// Creates a node.
    public init(
        name: String, labels: [String: String] = [:], taints: [Taint] = [], unschedulable: Bool = false,
        ready: Bool = true, allocatable: Resources = Resources(cpuMillis: 4000, memoryBytes: 8 << 30, pods: 110),
        extendedAllocatable: [String: Int64] = [:]
    ) {
        self.name = name
        self.labels = labels
        self.taints = taints
        self.unschedulable = unschedulable
        self.ready = ready
        self.allocatable = allocatable
        self.extendedAllocatable = extendedAllocatable
    }
}
