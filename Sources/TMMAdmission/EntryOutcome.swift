public import TMMPolicy

/// What the webhook does with a verdict, by policy mode: the answer, and whether the pods concerned get
/// the failure annotation.
public struct EntryOutcome: Sendable, Equatable {
    public var decision: AdmissionDecision
    /// Whether the verdict's related pods get the failure annotation.
    public var annotate: Bool

    public init(verdict: Verdict, mode: PolicyConfig.Mode, dryRun: Bool) {
        let reason = verdict.reason
        var audit: [(String, String)] = [("verdict", verdict.allowed ? "allowed" : reason?.rawValue ?? "denied")]
        if dryRun { audit.append(("dry-run", "true")) }
        switch (mode, verdict.allowed) {
        case (_, true):
            decision = AdmissionDecision(allowed: true, warnings: verdict.warnings, auditAnnotations: audit)
            annotate = false
        case (.enforce, false):
            decision = AdmissionDecision(
                allowed: false, message: verdict.message, reason: reason, warnings: verdict.warnings, auditAnnotations: audit)
            annotate = true
        case (.annotate, false):
            decision = AdmissionDecision(
                allowed: true, reason: reason, warnings: ["annotate mode: allowed, but \(verdict.message)"] + verdict.warnings,
                auditAnnotations: audit)
            annotate = true
        case (.audit, false):
            decision = AdmissionDecision(
                allowed: true, reason: reason, warnings: ["audit mode: would deny: \(verdict.message)"] + verdict.warnings,
                auditAnnotations: audit)
            annotate = false
        }
        if dryRun { annotate = false }
    }

    /// The entry is allowed with no failure found: the node's earlier failure annotations are obsolete.
    public var isClean: Bool { decision.allowed && decision.reason == nil }
}
