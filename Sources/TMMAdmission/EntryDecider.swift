public import TMMPolicy

/// A maintenance entry (or escalation) to decide.
public struct EntryRequest: Sendable {
    public var request: AdmissionRequest
    public var transition: Transition
    /// When the answer is due (monotonic nanoseconds): the `timeout` query less a margin.
    public var deadline: UInt64

    public init(request: AdmissionRequest, transition: Transition, deadline: UInt64) {
        self.request = request
        self.transition = transition
        self.deadline = deadline
    }
}

/// Decides entries. May take time (cluster reads, annotation patches); calls `completion` exactly once,
/// from any thread.
public protocol EntryDecider: Sendable {
    func decide(_ entry: EntryRequest, completion: @escaping @Sendable (AdmissionDecision) -> Void)
    /// Called for exits (always allowed) before they are answered, to clear the node's failure
    /// annotations; calls `completion` when done, from any thread.
    func exited(_ request: AdmissionRequest, deadline: UInt64, completion: @escaping @Sendable () -> Void)
}

extension EntryDecider {
    public func exited(_ request: AdmissionRequest, deadline: UInt64, completion: @escaping @Sendable () -> Void) {
        completion()
    }
}
