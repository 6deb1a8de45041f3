/// What makes a refusal true whatever else the cluster has done: read at the source (the API server's
/// current objects, a consistent read), it confirms the refusal without waiting until the watch cache is
/// known to be current.
///
/// Only the concurrency rule (rule 3) has such a witness. It refuses when at least `atLeast` other nodes
/// are in maintenance or about to enter (admitted, pending in the Lease), and it is the first rule, so it
/// gives the refusal its reason. A change the cache has not shown yet can make that count smaller only
/// through those very nodes; any other change can only add to it. So when at least `atLeast` of `nodes`
/// are in maintenance or still pending as read at the source, and `target` is there and not already in
/// maintenance at `level` (then the entry would be allowed as a no-op), a decision on a current state
/// refuses with the same reason. Which pods the refusal annotates still comes from the cache.
public struct RefusalConfirmation: Sendable, Equatable {
    /// The node asking to enter.
    public var target: String
    /// The level it asks for.
    public var level: MaintenanceLevel
    /// The other nodes the decision counted as in maintenance or pending.
    public var nodes: [String]
    /// How many of them must still be in maintenance or pending for the refusal to hold.
    public var atLeast: Int

    public init(target: String, level: MaintenanceLevel, nodes: [String], atLeast: Int) {
        self.target = target
        self.level = level
        self.nodes = nodes
        self.atLeast = atLeast
    }
}
