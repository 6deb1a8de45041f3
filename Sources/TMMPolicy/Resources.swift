/// Amounts of the three resources the capacity rule counts.
public struct Resources: Sendable, Hashable, CustomStringConvertible {
    /// CPU in millicores.
    public var cpuMillis: Int64
    /// Memory in bytes.
    public var memoryBytes: Int64
    /// Pod slots.
    public var pods: Int64

    /// Creates an amount.
    public init(cpuMillis: Int64 = 0, memoryBytes: Int64 = 0, pods: Int64 = 0) {
        self.cpuMillis = cpuMillis
        self.memoryBytes = memoryBytes
        self.pods = pods
    }

    /// Nothing.
    public static let zero = Resources()

    static func + (a: Resources, b: Resources) -> Resources {
        Resources(
            cpuMillis: a.cpuMillis &+ b.cpuMillis, memoryBytes: a.memoryBytes &+ b.memoryBytes, pods: a.pods &+ b.pods)
    }

    static func - (a: Resources, b: Resources) -> Resources {
        Resources(
            cpuMillis: a.cpuMillis &- b.cpuMillis, memoryBytes: a.memoryBytes &- b.memoryBytes, pods: a.pods &- b.pods)
    }

    /// True when `self` is at least `need` in every resource.
    func covers(_ need: Resources) -> Bool {
        cpuMillis >= need.cpuMillis && memoryBytes >= need.memoryBytes && pods >= need.pods
    }

    /// `cpu 500m, memory 1Gi, pods 1`.
    public var description: String {
        "cpu \(Resources.formatCPU(cpuMillis)), memory \(Resources.formatMemory(memoryBytes)), pods \(pods)"
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
