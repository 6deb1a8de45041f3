public import TMMAdmission
public import TMMTransport
import TMMBase

/// Routes the webhook's HTTP endpoints: `POST /validate`, `GET /healthz`, `GET /readyz`, `GET /metrics`.
public final class WebhookHandler: HTTPHandler {
    public let reviewer: AdmissionReviewer
    public let readiness: Readiness
    /// Renders `/metrics`; nil answers 404.
    public let metrics: (@Sendable () -> [UInt8])?
    /// Used when a request carries no `timeout` query (kube-apiserver's default webhook timeout).
    public let defaultTimeout: Duration = .seconds(10)

    /// `POST /validate` answers 403 to a caller without a verified client certificate (`--client-ca`);
    /// the probes and `/metrics` stay open.
    public let requireClientCertificate: Bool

    public init(
        reviewer: AdmissionReviewer, readiness: Readiness, metrics: (@Sendable () -> [UInt8])? = nil, requireClientCertificate: Bool = false
    ) {
        self.requireClientCertificate = requireClientCertificate
        self.reviewer = reviewer
        self.readiness = readiness
        self.metrics = metrics
    }

    public func handle(_ request: HTTPRequest, responder: HTTPResponder) {
        let path = request.path
        switch path {
        case "/validate":
            guard request.method == "POST" else { return responder.respond(methodNotAllowed("POST")) }
            guard request.clientCertificateVerified || !requireClientCertificate else {
                let error = AdmissionError(status: 403, "a client certificate signed by the --client-ca CA is required for /validate")
                return responder.respond(.json(403, AdmissionResponse.encodeError(error)))
            }
            validate(request, responder: responder)
        case "/healthz", "/livez":
            guard request.method == "GET" || request.method == "HEAD" else { return responder.respond(methodNotAllowed("GET, HEAD")) }
            responder.respond(.text(200, "ok\n"))
        case "/readyz":
            guard request.method == "GET" || request.method == "HEAD" else { return responder.respond(methodNotAllowed("GET, HEAD")) }
            let (ready, why) = readiness.status
            responder.respond(ready ? .text(200, "ok\n") : .text(503, "not ready: \(why)\n"))
        case "/metrics":
            guard let metrics else { return responder.respond(.error(404, "no such endpoint: \(path)")) }
            guard request.method == "GET" else { return responder.respond(methodNotAllowed("GET")) }
            responder.respond(
                HTTPResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")], body: metrics()))
        default:
            responder.respond(.error(404, "no such endpoint: \(path); the webhook serves POST /validate"))
        }
    }

    private func methodNotAllowed(_ allow: String) -> HTTPResponse {
        var response = HTTPResponse.error(405, "method not allowed; use \(allow)")
        response.headers.append(("Allow", allow))
        return response
    }

    /// Whether a Content-Type names `application/json`, in any case, with or without parameters such
    /// as `charset`. Byte by byte: it runs for every review.
    static func namesJSON(contentType: String) -> Bool {
        var contentType = contentType
        return contentType.withUTF8 { bytes in
            var start = 0
            var end = bytes.firstIndex(of: UInt8(ascii: ";")) ?? bytes.count
            while start < end, ASCII.isSpaceOrTab(bytes[start]) { start += 1 }
            while end > start, ASCII.isSpaceOrTab(bytes[end - 1]) { end -= 1 }
            let media = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[start..<end])
            return ASCII.equalsIgnoringCase(media, lowercase: "application/json")
        }
    }

    private func validate(_ request: HTTPRequest, responder: HTTPResponder) {
        let contentType = request.header("Content-Type") ?? ""
        guard Self.namesJSON(contentType: contentType) else {
            let error = AdmissionError(
                status: 415,
                "Content-Type must be application/json, got '\(contentType.isEmpty ? "(none)" : contentType)'")
            return responder.respond(.json(415, AdmissionResponse.encodeError(error)))
        }
        let timeout: Duration
        if let text = request.query.first(where: { $0.name == "timeout" })?.value {
            guard let parsed = GoDuration.parse(text), parsed > .zero else {
                let error = AdmissionError("invalid timeout query '\(text)'; expected a duration such as 5s")
                return responder.respond(.json(400, AdmissionResponse.encodeError(error)))
            }
            timeout = parsed
        } else {
            timeout = defaultTimeout
        }
        // Answer a little before the API server gives up: a late answer is as bad as none.
        let margin = min(timeout / 5, .milliseconds(500))
        let budget = timeout - margin
        let deadline = request.receivedAt + budget
        request.body.withUnsafeBytes { body in
            reviewer.review(body, now: request.receivedAt, deadline: deadline) { answer in
                responder.respond(.json(answer.status, answer.body))
            }
        }
    }
}


/// Whether `/readyz` says ready, and why not.
public final class Readiness: Sendable {
    private let state = Locked<(ready: Bool, reason: String)>((false, "starting"))

    public init() {}

    public var status: (Bool, String) { state.withLock { ($0.ready, $0.reason) } }

    public func set(ready: Bool, reason: String = "") { state.withLock { $0 = (ready, reason) } }
}
