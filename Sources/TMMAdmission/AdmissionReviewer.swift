public import Logging
public import TMMBase
import TMMPolicy

/// Turns an AdmissionReview body into an answer: parses it, classifies the Node update, answers
/// everything but entries at once, and hands entries to the `EntryDecider`.
public struct AdmissionReviewer: Sendable {
    /// Taint keys that mean maintenance (read per request: the policy may be reloaded).
    public var taintKeys: @Sendable () -> [String]
    public var decider: any EntryDecider
    public var logger: Logger
    /// Called with every decision, for metrics: (transition, allowed, reason or "").
    public var onDecision: @Sendable (String, Bool, String) -> Void

    public init(
        taintKeys: [String] = ["drain", "node.vmware.com/drain", "node.dell.com/drain"],
        decider: any EntryDecider, logger: Logger,
        onDecision: @escaping @Sendable (String, Bool, String) -> Void = { _, _, _ in }
    ) {
        self.init(taintKeysProvider: { taintKeys }, decider: decider, logger: logger, onDecision: onDecision)
    }

    /// A reviewer whose taint keys can change while it serves.
    public init(
        taintKeysProvider: @escaping @Sendable () -> [String], decider: any EntryDecider, logger: Logger,
        onDecision: @escaping @Sendable (String, Bool, String) -> Void = { _, _, _ in }
    ) {
        self.taintKeys = taintKeysProvider
        self.decider = decider
        self.logger = logger
        self.onDecision = onDecision
    }

    /// An HTTP status and JSON body.
    public typealias Answer = (status: Int, body: [UInt8])

    /// Reviews `body`; calls `completion` exactly once (at once, except for entries).
    /// `now` is when the request arrived (decision logs measure from it); `deadline` bounds an entry's work.
    public func review(
        _ body: UnsafeRawBufferPointer, now: Deadline, deadline: Deadline, completion: @escaping @Sendable (Answer) -> Void
    ) {
        let request: AdmissionRequest
        do {
            request = try AdmissionRequest.parse(body)
        } catch {
            logger.warning("rejected a malformed AdmissionReview", metadata: ["error": "\(error.message)"])
            completion((error.status, AdmissionResponse.encodeError(error)))
            return
        }
        guard request.isNodeUpdate else {
            // A registration that sends more than Node updates is misconfigured; never block it.
            let what = "\(request.operation) \(request.kind.isEmpty ? "?" : request.kind)\(request.subResource.isEmpty ? "" : "/" + request.subResource)"
            logger.warning(
                "allowed a request that is not a Node UPDATE; check the webhook registration",
                metadata: ["uid": "\(request.uid)", "request": "\(what)", "name": "\(request.name)"])
            let decision = AdmissionDecision(
                allowed: true, warnings: ["tmm-webhook only reviews Node UPDATE requests; allowed \(what) unchecked"])
            onDecision("not-node-update", true, "")
            completion((200, AdmissionResponse.encode(apiVersion: request.apiVersion, uid: request.uid, decision: decision)))
            return
        }
        let transition = Transition.classify(old: request.oldTaints, new: request.newTaints, taintKeys: taintKeys())
        switch transition {
        case .none:
            logger.debug("allowed a Node update that changes no maintenance taint", metadata: ["uid": "\(request.uid)", "node": "\(request.name)"])
            onDecision("none", true, "")
            completion((200, AdmissionResponse.encode(apiVersion: request.apiVersion, uid: request.uid, decision: .allow)))
        case .exit:
            logger.info(
                "decision", metadata: ["uid": "\(request.uid)", "node": "\(request.name)", "transition": "exit", "decision": "allow", "dryRun": "\(request.dryRun)"])
            onDecision("exit", true, "")
            // Answered at once; the exit itself changes nothing here (see `EntryDecider.exitAnswered`).
            completion((200, AdmissionResponse.encode(apiVersion: request.apiVersion, uid: request.uid, decision: .allow)))
            if !request.dryRun { decider.exitAnswered(request) }
        case .enter, .escalate:
            let name = transition.name
            let level = transition.level?.taintDescription ?? ""
            let logger = self.logger
            let onDecision = self.onDecision
            decider.decide(EntryRequest(request: request, transition: transition, deadline: deadline)) { decision in
                let reason = decision.reason?.rawValue ?? ""
                logger.info(
                    "decision",
                    metadata: [
                        "uid": "\(request.uid)", "node": "\(request.name)", "transition": "\(name)", "level": "\(level)",
                        "decision": "\(decision.allowed ? "allow" : "deny")", "reason": "\(reason)",
                        "dryRun": "\(request.dryRun)",
                        "durationMs": "\((Deadline.now() - now).inMilliseconds)",
                    ])
                onDecision(name, decision.allowed, reason)
                completion((200, AdmissionResponse.encode(apiVersion: request.apiVersion, uid: request.uid, decision: decision)))
            }
        }
    }
}
