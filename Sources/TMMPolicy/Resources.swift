/// Amounts of the resources every pod and node carries: cpu, memory, ephemeral storage and pod slots.
/// Extended resources (`nvidia.com/gpu`, `hugepages-2Mi`, …) are kept beside it, by name.
public struct Resources: Sendable, Hashable, CustomStringConvertible {
    /// CPU in millicores.
    public var cpuMillis: Int64
    /// Memory in bytes.
    public var memoryBytes: Int64
    /// Pod slots.
    public var pods: Int64
    /// Local ephemeral storage in bytes (`ephemeral-storage`).
    public var ephemeralStorageBytes: Int64

    /// Creates an amount.
    public init(cpuMillis: Int64 = 0, memoryBytes: Int64 = 0, pods: Int64 = 0, ephemeralStorageBytes: Int64 = 0) {
        self.cpuMillis = cpuMillis
        self.memoryBytes = memoryBytes
        self.pods = pods
        self.ephemeralStorageBytes = ephemeralStorageBytes
    }

    /// Nothing.
    public static let zero = Resources()

    static func + (a: Resources, b: Resources) -> Resources {
        Resources(
            cpuMillis: a.cpuMillis &+ b.cpuMillis, memoryBytes: a.memoryBytes &+ b.memoryBytes, pods: a.pods &+ b.pods,
            ephemeralStorageBytes: a.ephemeralStorageBytes &+ b.ephemeralStorageBytes)
    }

    static func - (a: Resources, b: Resources) -> Resources {
        Resources(
            cpuMillis: a.cpuMillis &- b.cpuMillis, memoryBytes: a.memoryBytes &- b.memoryBytes, pods: a.pods &- b.pods,
            ephemeralStorageBytes: a.ephemeralStorageBytes &- b.ephemeralStorageBytes)
    }

    /// True when `self` is at least `need` in every resource. Ephemeral storage is only compared when
    /// the pod asks for some (a node that reports none then has none), as the scheduler does.
    func covers(_ need: Resources) -> Bool {
        cpuMillis >= need.cpuMillis && memoryBytes >= need.memoryBytes && pods >= need.pods
            && (need.ephemeralStorageBytes == 0 || ephemeralStorageBytes >= need.ephemeralStorageBytes)
    }

    /// `cpu 500m, memory 1Gi, pods 1` (and `ephemeral-storage 1Gi` when not zero).
    public var description: String {
        "cpu \(Resources.formatCPU(cpuMillis)), memory \(Resources.formatMemory(memoryBytes)), pods \(pods)"
            + (ephemeralStorageBytes == 0 ? "" : ", ephemeral-storage \(Resources.formatMemory(ephemeralStorageBytes))")
    }

    /// Millicores as Kubernetes writes them (`2`, `500m`).
    public static func formatCPU(_ m: Int64) -> String { m % 1000 == 0 ? "\(m / 1000)" : "\(m)m" }

    /// Bytes with the largest exact binary suffix (`1Gi`, `64Mi`, `1000`).
    public static func formatMemory(_ b: Int64) -> String {
        let units: [(String, Int64)] = [("Ti", 1 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)]
        for (suffix, size) in units where b != 0 && b % size == 0 { return "\(b / size)\(suffix)" }
        return "\(b)"
    }
}
