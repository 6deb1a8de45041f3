/// A node taint (`spec.taints[]`).
public struct Taint: Sendable, Hashable, CustomStringConvertible {
    /// The taint key, e.g. `node.vmware.com/drain`.
    public var key: String
    /// The taint value (may be empty).
    public var value: String
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    public var effect: String

    /// Creates a taint.
    public init(key: String, value: String = "", effect: String) {
        self.key = key
        self.value = value
        self.effect = effect
    }

    /// `key=value:effect`, as `kubectl taint` writes it.
    public var description: String { value.isEmpty ? "\(key):\(effect)" : "\(key)=\(value):\(effect)" }

    /// Effects that keep pods off a node (the scheduler's view; `PreferNoSchedule` is only a preference).
    var repels: Bool { effect == "NoSchedule" || effect == "NoExecute" }
}
