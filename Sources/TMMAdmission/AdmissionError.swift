/// Why a request to `/validate` is not an AdmissionReview the webhook can answer.
public struct AdmissionError: Error, Sendable, CustomStringConvertible {
    /// HTTP status to answer with (400 or 415).
    public var status: Int
    /// What is wrong, for the caller.
    public var message: String

    public init(status: Int = 400, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { message }
}
