import Foundation
import Testing
import TMMAdmission
import TMMJSON
import TMMPolicy

/// The body of a raw HTTP fixture (everything after the blank line).
func fixtureBody(_ name: String) throws -> [UInt8] {
    let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil))
    let raw = Array(try Data(contentsOf: url))
    let separator: [UInt8] = [13, 10, 13, 10]
    let index = try #require((0...(raw.count - 4)).first { Array(raw[$0..<($0 + 4)]) == separator })
    return Array(raw[(index + 4)...])
}

func parse(_ bytes: [UInt8]) throws(AdmissionError) -> AdmissionRequest {
    do {
        return try bytes.withUnsafeBytes { buffer in try AdmissionRequest.parse(buffer) }
    } catch let error as AdmissionError {
        throw error
    } catch {
        fatalError("unexpected \(error)")
    }
}

@Suite struct AdmissionRequestTests {
    @Test func readsTheRealEntryRequest() throws {
        let request = try parse(try fixtureBody("admission-request-enter.http"))
        #expect(request.apiVersion == "admission.k8s.io/v1")
        #expect(request.uid == "7da37444-e951-40c6-a366-9d8bbb0ee11c")
        #expect(request.isNodeUpdate)
        #expect(request.name == "n2")
        #expect(request.dryRun == false)
        #expect(request.userName == "admin")
        #expect(request.newTaints == [Taint(key: "drain", value: "planned-downtime", effect: "NoSchedule")])
        #expect(request.oldTaints.isEmpty)
        let transition = Transition.classify(old: request.oldTaints, new: request.newTaints, taintKeys: ["drain"])
        #expect(transition == .enter(.plannedDowntime))
    }

    @Test func readsDryRunAndLabelRequests() throws {
        let dry = try parse(try fixtureBody("admission-request-enter-dryrun.http"))
        #expect(dry.dryRun)
        let label = try parse(try fixtureBody("admission-request-label.http"))
        #expect(Transition.classify(old: label.oldTaints, new: label.newTaints, taintKeys: ["drain"]) == .none)
        let retry = try parse(try fixtureBody("admission-request-enter-retry.http"))
        #expect(retry.uid != (try parse(try fixtureBody("admission-request-enter.http"))).uid)
    }

    @Test(arguments: [
        ("", "empty"),
        ("[1]", "not valid JSON"),
        ("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"", "not valid JSON"),
        ("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}", "has no request"),
        ("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":null}", "has no request"),
        ("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{}}", "has no uid"),
        ("{\"apiVersion\":\"admission.k8s.io/v2\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"u\"}}", "unsupported AdmissionReview apiVersion"),
        ("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"Pod\",\"request\":{\"uid\":\"u\"}}", "expected kind AdmissionReview"),
        ("{\"apiVersion\":\"admission.k8s.io/v1\",\"request\":{\"uid\":7}}", "not valid JSON"),
    ])
    func rejectsWhatIsNotAnAdmissionReview(body: String, message: String) {
        do {
            _ = try parse(Array(body.utf8))
            Issue.record("accepted \(body)")
        } catch {
            #expect(error.status == 400)
            #expect(error.message.contains(message), "\(error.message)")
        }
    }

    @Test(arguments: [
        // (old taints, new taints, expected)
        ([], [("drain", "planned-downtime", "NoSchedule")], Transition.enter(.plannedDowntime)),
        ([], [("node.vmware.com/drain", "drain", "NoSchedule")], .enter(.drain)),
        ([], [("node.dell.com/drain", "planned-downtime", "NoSchedule")], .enter(.plannedDowntime)),
        ([("drain", "planned-downtime", "NoSchedule")], [], .exit),
        ([("drain", "planned-downtime", "NoSchedule")], [("drain", "drain", "NoSchedule")], .escalate(.drain)),
        ([("drain", "drain", "NoSchedule")], [("drain", "drain", "NoExecute")], .escalate(.evict)),
        ([("drain", "drain", "NoExecute")], [("drain", "drain", "NoSchedule")], .none),
        ([], [("drain", "drain", "PreferNoSchedule")], .none),
        ([("drain", "drain", "NoSchedule")], [("drain", "planned-downtime", "NoSchedule")], .none),
        ([("drain", "planned-downtime", "NoSchedule")], [("drain", "planned-downtime", "NoSchedule")], .none),
        ([], [("drain", "planned-downtime", "NoExecute")], .enter(.evict)),
        ([], [("drain", "other", "NoSchedule")], .none),
        ([], [("example.com/drain", "drain", "NoSchedule")], .none),
        ([], [("node.kubernetes.io/unreachable", "", "NoExecute")], .none),
        ([("drain", "planned-downtime", "NoSchedule")], [("node.dell.com/drain", "planned-downtime", "NoSchedule")], .none),
    ] as [([(String, String, String)], [(String, String, String)], Transition)])
    func classifiesTransitions(old: [(String, String, String)], new: [(String, String, String)], expected: Transition) {
        let keys = ["drain", "node.vmware.com/drain", "node.dell.com/drain"]
        let o = old.map { Taint(key: $0.0, value: $0.1, effect: $0.2) }
        let n = new.map { Taint(key: $0.0, value: $0.1, effect: $0.2) }
        #expect(Transition.classify(old: o, new: n, taintKeys: keys) == expected)
    }
}

@Suite struct AdmissionResponseTests {
    @Test func allowEchoesUidAndVersion() throws {
        for version in ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"] {
            let body = AdmissionResponse.encode(apiVersion: version, uid: "abc", decision: .allow)
            let json = try JSON.parse(body)
            #expect(json["apiVersion"]?.string == version)
            #expect(json["kind"]?.string == "AdmissionReview")
            #expect(json["response"]?["uid"]?.string == "abc")
            #expect(json["response"]?["allowed"]?.bool == true)
            #expect(json["response"]?["patch"] == nil)
            #expect(json["response"]?["patchType"] == nil)
        }
    }

    @Test func denialIs403ForbiddenWithTheReasonFirst() throws {
        let decision = AdmissionDecision(
            allowed: false, message: "TooManyExistingFailures: budget store/db would have 1 of 2 required",
            warnings: ["line one\nline two"])
        let json = try JSON.parse(AdmissionResponse.encode(apiVersion: "admission.k8s.io/v1", uid: "u", decision: decision))
        let status = try #require(json["response"]?["status"])
        #expect(status["code"]?.int == 403)
        #expect(status["reason"]?.string == "Forbidden")
        #expect(status["message"]?.string?.hasPrefix("TooManyExistingFailures: ") == true)
        #expect(json["response"]?["warnings"]?[0]?.string == "line one line two")
    }

    @Test func longWarningsAreCut() {
        let decision = AdmissionDecision(allowed: true, warnings: [String(repeating: "w", count: 1000)])
        #expect(decision.warnings[0].count <= 240)
    }
}

/// Duplicate members among the fields the webhook reads are refused: Go's decoder in the API server keeps
/// the last copy, other parsers the first, so such a review could mean one thing here and another there.
@Suite struct AdmissionDuplicateFieldTests {
    static let request = #""uid":"u1","kind":{"group":"","kind":"Node"},"resource":{"resource":"nodes"},"operation":"UPDATE","name":"n1","userInfo":{"username":"admin"},"dryRun":false,"object":{"spec":{"taints":[]}},"oldObject":{"spec":{}}"#

    static func review(_ request: String, top: String = "") -> [UInt8] {
        Array(#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview",\#(top)"request":{\#(request)}}"#.utf8)
    }

    @Test func theBaseReviewIsAccepted() throws {
        let parsed = try parse(Self.review(Self.request))
        #expect(parsed.uid == "u1")
        #expect(parsed.isNodeUpdate)
    }

    @Test(arguments: [
        #""uid":"u2""#, #""operation":"CREATE""#, #""object":{"spec":{"taints":[{"key":"drain","value":"drain","effect":"NoSchedule"}]}}"#,
        #""oldObject":null"#, #""kind":{"group":"","kind":"Pod"}"#, #""resource":{}"#, #""name":"n2""#,
        #""dryRun":true"#, #""userInfo":{}"#, #""subResource":"status","subResource":"status""#,
        // Escaped spellings of the same key are the same key.
        #""\u0075id":"u3""#,
    ])
    func aDuplicatedRequestFieldIsRefused(extra: String) {
        #expect(throws: AdmissionError.self) { try parse(Self.review(Self.request + "," + extra)) }
    }

    @Test(arguments: [
        #""kind":{"group":"","kind":"Node","kind":"Pod"}"#,
        #""resource":{"resource":"nodes","resource":"pods"}"#,
        #""userInfo":{"username":"a","username":"b"}"#,
        #""object":{"spec":{"taints":[]},"spec":{"taints":[]}}"#,
        #""object":{"spec":{"taints":[],"taints":[]}}"#,
        #""object":{"spec":{"taints":[{"key":"drain","key":"other","value":"drain","effect":"NoSchedule"}]}}"#,
        #""object":{"spec":{"taints":[{"key":"drain","value":"drain","value":"planned-downtime","effect":"NoSchedule"}]}}"#,
        #""object":{"spec":{"taints":[{"key":"drain","value":"drain","effect":"NoSchedule","effect":"PreferNoSchedule"}]}}"#,
    ])
    func aDuplicatedNestedFieldIsRefused(field: String) {
        var request = Self.request
        let key = String(field.prefix { $0 != ":" })
        // Replace the base's member of that name with the duplicated one.
        let start = request.range(of: key + ":")!
        var depth = 0
        var end = start.upperBound
        while end < request.endIndex {
            let c = request[end]
            if c == "{" || c == "[" { depth += 1 }
            if c == "}" || c == "]" { depth -= 1 }
            end = request.index(after: end)
            if depth == 0 { break }
        }
        request.replaceSubrange(start.lowerBound..<end, with: field)
        #expect(throws: AdmissionError.self) { try parse(Self.review(request)) }
    }

    @Test(arguments: [#""apiVersion":"admission.k8s.io/v1","#, #""kind":"AdmissionReview","#, #""request":null,"#])
    func aDuplicatedTopLevelFieldIsRefused(top: String) {
        #expect(throws: AdmissionError.self) { try parse(Self.review(Self.request, top: top)) }
    }

    /// Fields the webhook does not read may repeat (they are not its to judge), and invalid UTF-8 anywhere
    /// is refused.
    @Test func unreadFieldsMayRepeatButInvalidUTF8IsRefused() throws {
        _ = try parse(Self.review(Self.request + #","options":{},"options":{}"#))
        var bytes = Self.review(Self.request + #","note":"x""#)
        bytes.insert(0xFF, at: bytes.count - 4)
        #expect(throws: AdmissionError.self) { try parse(bytes) }
    }
}

/// `object` and `oldObject` share most of their bytes; a large member of the second that repeats the
/// first's byte for byte is stepped over without being validated again. Only an exact copy may be.
@Suite struct AdmissionUnchangedCopyTests {
    /// A status of about 2 KB (above the size worth remembering), with the given text in one string.
    static func status(_ text: String = "ok") -> String {
        let images = (0..<20).map { #"{"names":["registry.example.com/team/image-\#($0):v1.0.0"],"sizeBytes":\#(1000 + $0)}"# }
        return #"{"images":[\#(images.joined(separator: ","))],"note":"\#(text)"}"#
    }

    static func review(object: String, oldObject: String) -> [UInt8] {
        Array(
            (#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","kind":{"group":"","kind":"Node"},"#
                + #""resource":{"resource":"nodes"},"operation":"UPDATE","name":"n1","object":\#(object),"oldObject":\#(oldObject)}}"#).utf8)
    }

    static let tainted = #"{"spec":{"taints":[{"key":"drain","value":"planned-downtime","effect":"NoSchedule"}]},"status":\#(status())}"#

    @Test func anUnchangedStatusIsReadOnceAndTheTaintsOfBothObjectsStillCount() throws {
        let parsed = try parse(Self.review(object: Self.tainted, oldObject: #"{"spec":{},"status":\#(Self.status())}"#))
        #expect(parsed.newTaints.map(\.key) == ["drain"])
        #expect(parsed.oldTaints.isEmpty)
        #expect(Transition.classify(old: parsed.oldTaints, new: parsed.newTaints, taintKeys: ["drain"]) == .enter(.plannedDowntime))
    }

    @Test func aStatusThatDiffersIsValidatedAgain() throws {
        // A valid change is read; an invalid one is refused, though the rest of the bytes are the same.
        _ = try parse(Self.review(object: Self.tainted, oldObject: #"{"spec":{},"status":\#(Self.status("changed"))}"#))
        for invalid in [#"bad \q escape"#, "lone \\ud800 surrogate"] {
            #expect(throws: AdmissionError.self) {
                try parse(Self.review(object: Self.tainted, oldObject: #"{"spec":{},"status":\#(Self.status(invalid))}"#))
            }
        }
        var bytes = Self.review(object: Self.tainted, oldObject: #"{"spec":{},"status":\#(Self.status("xx"))}"#)
        let note = bytes.count - 6  // inside the second status's "xx"}}}}
        #expect(bytes[note] == UInt8(ascii: "x"))
        bytes[note] = 0xFF
        #expect(throws: AdmissionError.self) { try parse(bytes) }
    }

    @Test func aCopyFollowedByAnythingButTheObjectsGrammarIsRefused() {
        // The copy ends where the first value ended; what follows is read as usual.
        for tail in ["x", "]", #" "extra""#, ",}"] {
            #expect(throws: AdmissionError.self) {
                try parse(Self.review(object: Self.tainted, oldObject: #"{"spec":{},"status":\#(Self.status())\#(tail)}"#))
            }
        }
    }
}
