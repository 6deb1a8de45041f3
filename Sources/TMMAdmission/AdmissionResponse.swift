import TMMJSON

/// Writes the AdmissionReview answer in the request's API version. Never carries `patch`/`patchType`:
/// this is a validating webhook.
public enum AdmissionResponse {
    /// The response body for `decision` to the request `uid`.
    public static func encode(apiVersion: String, uid: String, decision: AdmissionDecision) -> [UInt8] {
        var w = JSONWriter(capacity: 256)
        w.beginObject()
        w.key("apiVersion"); w.value(apiVersion)
        w.key("kind"); w.value("AdmissionReview")
        w.key("response")
        w.beginObject()
        w.key("uid"); w.value(uid)
        w.key("allowed"); w.value(decision.allowed)
        if !decision.allowed {
            w.key("status")
            w.beginObject()
            w.key("metadata"); w.beginObject(); w.endObject()
            w.key("status"); w.value("Failure")
            w.key("message"); w.value(decision.message ?? "denied")
            w.key("reason"); w.value("Forbidden")
            w.key("code"); w.value(403)
            w.endObject()
        }
        if !decision.warnings.isEmpty {
            w.key("warnings")
            w.beginArray()
            for warning in decision.warnings { w.value(warning) }
            w.endArray()
        }
        if !decision.auditAnnotations.isEmpty {
            w.key("auditAnnotations")
            w.beginObject()
            for (k, v) in decision.auditAnnotations {
                w.key(k)
                w.value(v)
            }
            w.endObject()
        }
        w.endObject()
        w.endObject()
        var bytes = w.bytes
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    /// The JSON error body for a request that is not an AdmissionReview the webhook can answer.
    public static func encodeError(_ error: AdmissionError) -> [UInt8] {
        var w = JSONWriter(capacity: 128)
        w.beginObject()
        w.key("status"); w.value(error.status)
        w.key("error"); w.value(error.message)
        w.endObject()
        var bytes = w.bytes
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }
}
