/// A pod toleration (`spec.tolerations[]`).
public struct Toleration: Sendable, Hashable {
    /// `Equal` (the default) or `Exists`.
    public enum Operator: String, Sendable, Hashable { case equal = "Equal", exists = "Exists" }

    /// The taint key; empty with `Exists` tolerates every taint.
    public var key: String
    /// `Equal` compares the value; `Exists` ignores it.
    public var `operator`: Operator
    /// The value compared by `Equal`.
    public var value: String
    /// The effect tolerated; empty tolerates every effect.
    public var effect: String

    /// Creates a toleration.
    public init(key: String = "", operator: Operator = .equal, value: String = "", effect: String = "") {
        self.key = key
        self.operator = `operator`
        self.value = value
        self.effect = effect
    }

    /// True when this toleration tolerates `taint` (Kubernetes' `ToleratesTaint`).
    public func tolerates(_ taint: Taint) -> Bool {
        if !effect.isEmpty, effect != taint.effect { return false }
        if key.isEmpty { return `operator` == .exists }
        if key != taint.key { return false }
        switch `operator` {
        case .exists: return true
        case .equal: return value == taint.value
        }
    }
}

extension Array where Element == Toleration {
    /// True when every `NoSchedule`/`NoExecute` taint of `taints` is tolerated.
    func toleratesAll(_ taints: [Taint]) -> Bool {
        for taint in taints where taint.repels {
            if !contains(where: { $0.tolerates(taint) }) { return false }
        }
        return true
    }
}
