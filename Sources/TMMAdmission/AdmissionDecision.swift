public import TMMPolicy

/// What the webhook answers one AdmissionReview.
public struct AdmissionDecision: Sendable, Equatable {
    public var allowed: Bool
    /// For a denial: the message the user sees, starting with the reason (`TooManyExistingFailures: ...`).
    public var message: String?
    /// Why the entry was found unsafe, typed (for logs and metrics); nil when it was found safe. Set
    /// also when the entry is allowed anyway (annotate and audit modes).
    public var reason: FailureReason?
    /// Short single-line warnings (`kubectl` prints each as `Warning: ...`).
    public var warnings: [String]
    /// Key/values the API server writes into its audit log.
    public var auditAnnotations: [(String, String)]

    public init(
        allowed: Bool, message: String? = nil, reason: FailureReason? = nil, warnings: [String] = [],
        auditAnnotations: [(String, String)] = []
    ) {
        self.allowed = allowed
        self.message = message
        self.reason = reason
        self.warnings = warnings.map(AdmissionDecision.singleLine)
        self.auditAnnotations = auditAnnotations
    }

    public static let allow = AdmissionDecision(allowed: true)

    public static func == (a: AdmissionDecision, b: AdmissionDecision) -> Bool {
        a.allowed == b.allowed && a.message == b.message && a.reason == b.reason && a.warnings == b.warnings
            && a.auditAnnotations.map { "\($0)=\($1)" } == b.auditAnnotations.map { "\($0)=\($1)" }
    }

    /// Warnings must be short single lines: newlines become spaces, and long text is cut.
    static func singleLine(_ text: String) -> String {
        var s = String(text.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
        if s.count > 240 { s = String(s.prefix(237)) + "..." }
        return s
    }
}
