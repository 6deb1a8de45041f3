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
            var seen = SeenFields()
            try scanner.readObject { (s, key) throws(JSONError) in
                if key.equals("apiVersion") {
                    try seen.mark(0, "apiVersion", at: s.offset)
                    apiVersion = try s.readOptionalString()
                } else if key.equals("kind") {
                    try seen.mark(1, "kind", at: s.offset)
                    kind = try s.readOptionalString()
                } else if key.equals("request") {
                    try seen.mark(2, "request", at: s.offset)
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
        var seen = SeenFields()
        var skipped = SkippedMembers()
        try s.readObject { (s, key) throws(JSONError) in
            if key.equals("uid") {
                try seen.mark(0, "request.uid", at: s.offset)
                r.uid = try s.readOptionalString() ?? ""
            } else if key.equals("kind") {
                try seen.mark(1, "request.kind", at: s.offset)
                var inner = SeenFields()
                try s.readObject { (s, key) throws(JSONError) in
                    if key.equals("group") {
                        try inner.mark(0, "request.kind.group", at: s.offset)
                        r.kindGroup = try s.readOptionalString() ?? ""
                    } else if key.equals("kind") {
                        try inner.mark(1, "request.kind.kind", at: s.offset)
                        r.kind = try s.readOptionalString() ?? ""
                    }
                }
            } else if key.equals("resource") {
                try seen.mark(2, "request.resource", at: s.offset)
                var inner = SeenFields()
                try s.readObject { (s, key) throws(JSONError) in
                    if key.equals("resource") {
                        try inner.mark(0, "request.resource.resource", at: s.offset)
                        r.resource = try s.readOptionalString() ?? ""
                    }
                }
            } else if key.equals("subResource") {
                try seen.mark(3, "request.subResource", at: s.offset)
                r.subResource = try s.readOptionalString() ?? ""
            } else if key.equals("operation") {
                try seen.mark(4, "request.operation", at: s.offset)
                r.operation = try s.readOptionalString() ?? ""
            } else if key.equals("name") {
                try seen.mark(5, "request.name", at: s.offset)
                r.name = try s.readOptionalString() ?? ""
            } else if key.equals("dryRun") {
                try seen.mark(6, "request.dryRun", at: s.offset)
                if try s.peekKind() == .null { try s.readNull() } else { r.dryRun = try s.readBool() }
            } else if key.equals("userInfo") {
                try seen.mark(7, "request.userInfo", at: s.offset)
                var inner = SeenFields()
                try s.readObject { (s, key) throws(JSONError) in
                    if key.equals("username") {
                        try inner.mark(0, "request.userInfo.username", at: s.offset)
                        r.userName = try s.readOptionalString() ?? ""
                    }
                }
            } else if key.equals("object") {
                try seen.mark(8, "request.object", at: s.offset)
                r.newTaints = try readTaints(&s, "request.object", skipped: &skipped)
            } else if key.equals("oldObject") {
                try seen.mark(9, "request.oldObject", at: s.offset)
                r.oldTaints = try readTaints(&s, "request.oldObject", skipped: &skipped)
            }
        }
        return r
    }

    /// `spec.taints` of an object (or none when the object is null or has none). The other members are
    /// skipped (validated): a large one is remembered in `skipped`, and the same member of the other
    /// object (`object` and `oldObject` of a Node update share most of their bytes, the status above
    /// all) is stepped over with one comparison when its bytes are the same.
    private static func readTaints(
        _ s: inout JSONScanner, _ path: StaticString, skipped: inout SkippedMembers
    ) throws(JSONError) -> [Taint] {
        guard try s.peekKind() == .object else {
            try s.skipValue()
            return []
        }
        var taints: [Taint] = []
        var seenSpec = SeenFields()
        try s.readObject { (s, key) throws(JSONError) in
            guard key.equals("spec") else {
                if let earlier = skipped.value(of: key) {
                    try s.skipValue(repeating: earlier)
                } else if let value = try s.skipValueRecording() {
                    skipped.remember(key, value)
                }
                return
            }
            try seenSpec.mark(0, "\(path).spec", at: s.offset)
            guard try s.peekKind() == .object else { return }
            var seenTaints = SeenFields()
            try s.readObject { (s, key) throws(JSONError) in
                guard key.equals("taints") else { return }
                try seenTaints.mark(0, "\(path).spec.taints", at: s.offset)
                guard try s.peekKind() == .array else { return }
                try s.readArray { (s) throws(JSONError) in
                    guard try s.peekKind() == .object else { return }
                    taints.append(try Taint.read(&s))
                }
            }
        }
        return taints
    }
}

/// Large members of one object skipped whole, by name, for the other object's copies of them.
struct SkippedMembers {
    /// Smaller values are validated again rather than remembered: the comparison would save little.
    static let minimumLength = 512
    private var members: [(name: [UInt8], value: JSONScanner.ValidatedValue)] = []

    func value(of name: UnsafeRawBufferPointer) -> JSONScanner.ValidatedValue? {
        members.first { $0.name.elementsEqual(name) }?.value
    }

    mutating func remember(_ name: UnsafeRawBufferPointer, _ value: JSONScanner.ValidatedValue) {
        guard value.count >= Self.minimumLength, members.count < 16 else { return }
        members.append((Array(name), value))
    }
}

/// The members of one object the reader has met, to refuse a second copy of one: JSON parsers disagree on
/// duplicate keys (Go's keeps the last, others the first or refuse), so a document whose meaning depends
/// on the parser is refused rather than read one way here and another in the API server or an audit log.
private struct SeenFields {
    private var bits: UInt32 = 0

    mutating func mark(_ field: Int, _ name: @autoclosure () -> String, at offset: Int) throws(JSONError) {
        let bit: UInt32 = 1 << UInt32(field)
        if bits & bit != 0 { throw JSONError(.syntax, at: offset, "duplicate member '\(name())'") }
        bits |= bit
    }
}
