/// The cluster state as the decision sees it: known, or unknown with the reason.
public enum StateView: Sendable {
    case known(ClusterState)
    /// No usable state (not synced yet, watch broken too long, …).
    case unknown(reason: String)
}
