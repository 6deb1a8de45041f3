/// A budget as ``ClusterState`` stores it, with the slots of the pods its selector matches.
struct BudgetRecord: Sendable {
    var source: DisruptionBudget
    var namespace: Int32
    /// `nil` when the budget has no selector (it selects nothing).
    var selector: CompiledSelector?
    var pods: Set<Int32> = []
    var present = true
}
