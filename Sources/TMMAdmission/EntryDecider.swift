public import TMMBase
public import TMMPolicy

/// A maintenance entry (or escalation) to decide.
public struct EntryRequest: Sendable {
    public var request: AdmissionRequest
    public var transition: Transition
    /// When the answer is due: the `timeout` query less a margin.
    public var deadline: Deadline

    public init(request: AdmissionRequest, transition: Transition, deadline: Deadline) {
        self.request = request
        self.transition = transition
        self.deadline = deadline
    }
}

/// Decides entries. May take time (cluster reads, annotation patches); calls `completion` exactly once,
/// from any thread.
public protocol EntryDecider: Sendable {
    func decide(_ entry: EntryRequest, completion: @escaping @Sendable (AdmissionDecision) -> Void)
    /// An exit was allowed (it is answered at once, without waiting for this). Live mode ignores it:
    /// side effects follow what the cluster did, as the watch shows it, never what a request claims.
    /// With a snapshot (`serve --state`) there is no cluster to observe, so requests are the only source.
    func exitAnswered(_ request: AdmissionRequest)
}

extension EntryDecider {
    public func exitAnswered(_ request: AdmissionRequest) {}
}
