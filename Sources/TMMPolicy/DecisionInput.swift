/// Everything one decision depends on.
public struct DecisionInput: Sendable {
    /// The node being updated.
    public var node: String
    /// What the update does (``Transition/classify(old:new:taintKeys:)``).
    public var transition: Transition
    /// The cluster state, or why it is unknown.
    public var state: StateView
    /// Nodes whose entry was admitted but whose taint the state does not show yet.
    public var pendingEntries: Set<String>

    /// Creates an input.
    public init(node: String, transition: Transition, state: StateView, pendingEntries: Set<String> = []) {
        self.node = node
        self.transition = transition
        self.state = state
        self.pendingEntries = pendingEntries
    }
}
