/// The answer to one Node update.
public struct Verdict: Sendable, Equatable {
    /// Whether the update may proceed.
    public var allowed: Bool
    /// Why it was refused; nil when allowed.
    public var reason: FailureReason?
    /// Starts with the reason (`TooManyExistingFailures: …`) or, when allowed, `Allowed: …`.
    public var message: String
    /// Short single lines for `response.warnings`.
    public var warnings: [String]
    /// The pods to annotate (for an exit: to clear).
    public var relatedPods: [PodRef]
    /// What each rule found (for `check`).
    public var findings: Findings
    /// For a refusal that reads at the source can confirm on their own (see ``RefusalConfirmation``).
    public var confirmation: RefusalConfirmation?

    /// Creates a verdict.
    public init(
        allowed: Bool, reason: FailureReason?, message: String, warnings: [String] = [], relatedPods: [PodRef] = [],
        findings: Findings = Findings(), confirmation: RefusalConfirmation? = nil
    ) {
        self.allowed = allowed
        self.reason = reason
        self.message = message
        self.warnings = warnings
        self.relatedPods = relatedPods
        self.findings = findings
        self.confirmation = confirmation
    }
}
