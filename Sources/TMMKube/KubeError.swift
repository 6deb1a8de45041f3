public import TMMJSON

/// A failed Kubernetes API call or configuration: what the server answered (decoded from its `Status`
/// body), or why no answer arrived.
public struct KubeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure; compare errors by code.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: Hashable { case status, connect, timeout, transport, decode, configuration, unsupported }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        /// The API server answered with a non-2xx status (see `httpStatus` and `reason`).
        public static let status = Code(.status)
        /// No connection: refused, unresolvable, or the TLS handshake failed.
        public static let connect = Code(.connect)
        /// The call's deadline passed.
        public static let timeout = Code(.timeout)
        /// The connection broke in the middle of a request or a stream.
        public static let transport = Code(.transport)
        /// The answer was not the JSON (or gzip) it claimed to be.
        public static let decode = Code(.decode)
        /// The kubeconfig or in-cluster configuration is unreadable or incomplete.
        public static let configuration = Code(.configuration)
        /// The configuration asks for something this client does not do (exec or auth-provider plugins).
        public static let unsupported = Code(.unsupported)
        public var description: String { "\(base)" }
    }

    public var code: Code
    /// The HTTP status for `.status` errors (or the `code` of an `ERROR` watch event); 0 otherwise.
    public var httpStatus: Int
    /// The `Status.reason`, e.g. `NotFound`, `Conflict`, `AlreadyExists`, `Expired`, `Unauthorized`.
    public var reason: String
    /// A human message: the server's `Status.message`, or what went wrong on our side.
    public var message: String

    public init(_ code: Code, httpStatus: Int = 0, reason: String = "", _ message: String) {
        self.code = code
        self.httpStatus = httpStatus
        self.reason = reason
        self.message = message
    }

    /// Decodes a non-2xx answer from its `Status` body; a body that is not a Status keeps its text.
    public init(httpStatus: Int, body: [UInt8]) {
        if let status = try? JSON.parse(body), status["kind"]?.string == "Status" {
            self.init(status: status, fallbackCode: httpStatus)
        } else {
            let text = String(decoding: body.prefix(512), as: UTF8.self)
            self.init(.status, httpStatus: httpStatus, reason: Self.defaultReason(httpStatus), text.isEmpty ? "HTTP \(httpStatus)" : text)
        }
    }

    /// Decodes a `Status` object (from a body or an `ERROR` watch event).
    public init(status: JSON, fallbackCode: Int = 0) {
        let code = status["code"]?.int.map(Int.init) ?? fallbackCode
        self.init(
            .status, httpStatus: code, reason: status["reason"]?.string ?? Self.defaultReason(code),
            status["message"]?.string ?? "HTTP \(code)")
    }

    public var description: String {
        if code == .status { return "\(httpStatus) \(reason): \(message)" }
        return "\(code): \(message)"
    }

    public static func == (a: KubeError, b: KubeError) -> Bool { a.code == b.code }

    /// Reason `NotFound`, or a 404 whose reason is not one Kubernetes defines (as client-go decides).
    public var isNotFound: Bool { isReason("NotFound", orCode: 404) }
    /// Reason `Conflict` (a stale `resourceVersion`), or a 409 with a reason Kubernetes does not define.
    public var isConflict: Bool { isReason("Conflict", orCode: 409) }
    /// Reason `AlreadyExists` (a create of a name that exists).
    public var isAlreadyExists: Bool { code == .status && reason == "AlreadyExists" }
    /// Reason `Expired` or `Gone`, or a 410 with an unknown reason: the resourceVersion is too old; relist.
    public var isGone: Bool { code == .status && (reason == "Expired" || isReason("Gone", orCode: 410)) }
    /// 401: the token is missing, wrong or expired.
    public var isUnauthorized: Bool { code == .status && httpStatus == 401 }
    /// 403: the identity lacks the RBAC right.
    public var isForbidden: Bool { code == .status && httpStatus == 403 }
    /// Worth retrying after a back-off: 429, 5xx, or a transport failure (connect, timeout, broken stream).
    public var isRetryable: Bool {
        switch code {
        case .status: httpStatus == 429 || httpStatus >= 500
        case .connect, .timeout, .transport: true
        default: false
        }
    }

    /// client-go's rule: the reason decides; the HTTP code only when the reason is not a known one.
    private func isReason(_ wanted: String, orCode status: Int) -> Bool {
        guard code == .status else { return false }
        if reason == wanted { return true }
        return !Self.knownReasons.contains(reason) && httpStatus == status
    }

    /// The `StatusReason`s Kubernetes defines (metav1).
    static let knownReasons: Set<String> = [
        "Unauthorized", "Forbidden", "NotFound", "AlreadyExists", "Conflict", "Gone", "Invalid", "ServerTimeout",
        "StoreReadError", "Timeout", "TooManyRequests", "BadRequest", "MethodNotAllowed", "NotAcceptable",
        "RequestEntityTooLarge", "UnsupportedMediaType", "InternalError", "Expired", "ServiceUnavailable",
    ]

    static func defaultReason(_ status: Int) -> String {
        switch status {
        case 400: "BadRequest"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "NotFound"
        case 405: "MethodNotAllowed"
        case 409: "Conflict"
        case 410: "Expired"
        case 415: "UnsupportedMediaType"
        case 422: "Invalid"
        case 429: "TooManyRequests"
        case 500: "InternalError"
        case 503: "ServiceUnavailable"
        case 504: "Timeout"
        default: ""
        }
    }
}
