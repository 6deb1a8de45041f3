/// Why a watch returned without an error.
public enum KubeWatchEnd: Sendable, Equatable {
    /// The server ended the stream cleanly (its `timeoutSeconds`, or after an `ERROR` event).
    case serverClosed
    /// The callback returned false.
    case stopped
    /// The call's deadline passed while the stream was open.
    case deadline
}
