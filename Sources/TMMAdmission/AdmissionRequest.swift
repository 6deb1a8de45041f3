public import TMMPolicy
import TMMJSON

/// The parts of an AdmissionReview request the webhook reads.
///
/// Read with a forward-only scanner that skips everything else, so a 20 KB Node update costs one
/// validating pass and a few small allocations.
public struct AdmissionRequest: Sendable {
    /// `admission.k8s.io/v1` or `admission.k8s.io/v1beta1`; the answer uses the same.
    public var apiVersion: String
    public var uid: String
    public var kindGroup: String = ""
    public var kind: String = ""
    public var resource: String = ""
    public var subResource: String = ""
    public var operation: String = ""
    /// The object's name (the Node's, for a Node update).
    public var name: String = ""
    public var dryRun: Bool = false
    public var userName: String = ""
    /// `spec.taints` of `object` and `oldObject`.
    public var newTaints: [Taint] = []
    public var oldTaints: [Taint] = []

    public static let supportedVersions = ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"]

    /// True for an UPDATE of a Node object itself (not a subresource).
    public var isNodeUpdate: Bool {
        kindGroup.isEmpty && kind == "Node" && operation == "UPDATE" && subResource.isEmpty
    }

    public init(apiVersion: String, uid: String) {
        self.apiVersion = apiVersion
        self.uid = uid
    }

    /// Reads an AdmissionReview body.
    public static func parse(_ body: UnsafeRawBufferPointer) throws(AdmissionError) -> AdmissionRequest {
        var apiVersion: String?
        var kind: String?
        var request: AdmissionRequest?
        var scanner = JSONScanner(body)
        if scanner.atEnd() { throw AdmissionError("the request body is empty; expected an AdmissionReview") }
        do throws(JSONError) {
            guard try scanner.peekKind() == .object else {
                throw JSONError(.type, at: 0, "the body is not a JSON object")
            }
            try scanner.readObject { (s, key) throws(JSONError) in
                if key.equals("apiVersion") {
                    apiVersion = try s.readOptionalString()
                } else if key.equals("kind") {
                    kind = try s.readOptionalString()
                } else if key.equals("request") {
                    if try s.peekKind() == .null {
                        try s.readNull()
                    } else {
                        request = try readRequest(&s)
                    }
                }
            }
            try scanner.expectEnd()
        } catch {
            throw AdmissionError("the request body is not valid JSON: \(error)")
        }
        if let kind, kind != "AdmissionReview" {
            throw AdmissionError("expected kind AdmissionReview, got '\(kind)'")
        }
        let version = apiVersion ?? ""
        guard supportedVersions.contains(version) else {
            throw AdmissionError(
                "unsupported AdmissionReview apiVersion '\(version)'; supported: \(supportedVersions.joined(separator: ", "))")
        }
        guard var request else { throw AdmissionError("the AdmissionReview has no request") }
        guard !request.uid.isEmpty else { throw AdmissionError("the AdmissionReview request has no uid") }
        request.apiVersion = version
        return request
    }

    private static func readRequest(_ s: inout JSONScanner) throws(JSONError) -> AdmissionRequest {
        var r = AdmissionRequest(apiVersion: "", uid: "")
        try s.readObject { (s, key) throws(JSONError) in
            if key.equals("uid") {
                r.uid = try s.readOptionalString() ?? ""
            } else if key.equals("kind") {
                try s.readObject { (s, key) throws(JSONError) in
                    if key.equals("group") { r.kindGroup = try s.readOptionalString() ?? "" }
                    else if key.equals("kind") { r.kind = try s.readOptionalString() ?? "" }
                }
            } else if key.equals("resource") {
                try s.readObject { (s, key) throws(JSONError) in
                    if key.equals("resource") { r.resource = try s.readOptionalString() ?? "" }
                }
            } else if key.equals("subResource") {
                r.subResource = try s.readOptionalString() ?? ""
            } else if key.equals("operation") {
                r.operation = try s.readOptionalString() ?? ""
            } else if key.equals("name") {
                r.name = try s.readOptionalString() ?? ""
            } else if key.equals("dryRun") {
                if try s.peekKind() == .null { try s.readNull() } else { r.dryRun = try s.readBool() }
            } else if key.equals("userInfo") {
                try s.readObject { (s, key) throws(JSONError) in
                    if key.equals("username") { r.userName = try s.readOptionalString() ?? "" }
                }
            } else if key.equals("object") {
                r.newTaints = try readTaints(&s)
            } else if key.equals("oldObject") {
                r.oldTaints = try readTaints(&s)
            }
        }
        return r
    }

    /// `spec.taints` of an object (or none when the object is null or has none).
    private static func readTaints(_ s: inout JSONScanner) throws(JSONError) -> [Taint] {
        guard try s.peekKind() == .object else {
            try s.skipValue()
            return []
        }
        var taints: [Taint] = []
        try s.readObject { (s, key) throws(JSONError) in
            guard key.equals("spec"), try s.peekKind() == .object else { return }
            try s.readObject { (s, key) throws(JSONError) in
                guard key.equals("taints"), try s.peekKind() == .array else { return }
                try s.readArray { (s) throws(JSONError) in
                    guard try s.peekKind() == .object else { return }
                    taints.append(try Taint.read(&s))
                }
            }
        }
        return taints
    }
}
