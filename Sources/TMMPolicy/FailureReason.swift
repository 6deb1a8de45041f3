/// The value of the `emm-failure` annotation: why an entry was refused.
public enum FailureReason: String, Sendable, Hashable, CaseIterable {
    /// Too many nodes or failure domains are already down, or a budget would be broken.
    case tooManyExistingFailures = "TooManyExistingFailures"
    /// The node's pods do not fit on the other nodes.
    case notEnoughResources = "NotEnoughResources"
    /// The state is unknown or the node is not in it.
    case genericFailure = "GenericFailure"
}
