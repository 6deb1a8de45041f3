/// A PodDisruptionBudget (policy/v1), as the policy reads it.
public struct DisruptionBudget: Sendable, Hashable {
    /// The budget's namespace; it covers pods of this namespace only.
    public var namespace: String
    /// The budget's name.
    public var name: String
    /// `spec.selector`; `nil` (absent) selects no pod, an empty selector selects every pod of the namespace.
    public var selector: LabelSelector?
    /// `spec.minAvailable`.
    public var minAvailable: IntOrPercent?
    /// `spec.maxUnavailable` (wins when both are set, as in the disruption controller).
    public var maxUnavailable: IntOrPercent?

    /// Creates a budget.
    public init(
        namespace: String, name: String, selector: LabelSelector?, minAvailable: IntOrPercent? = nil,
        maxUnavailable: IntOrPercent? = nil
    ) {
        self.namespace = namespace
        self.name = name
        self.selector = selector
        self.minAvailable = minAvailable
        self.maxUnavailable = maxUnavailable
    }

    /// The number of healthy pods the budget requires out of `expected`, as the disruption controller
    /// computes `desiredHealthy`; `nil` when a bound is invalid.
    public func required(expected: Int) -> Int? {
        if let maxUnavailable {
            guard let n = maxUnavailable.scaled(total: expected) else { return nil }
            return max(0, expected - n)
        }
        if let minAvailable { return minAvailable.scaled(total: expected) }
        return 0
    }
}
