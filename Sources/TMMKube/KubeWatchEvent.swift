public import TMMJSON

/// One event of a WATCH stream: a line `{"type": ..., "object": ...}`.
public struct KubeWatchEvent: Sendable {
    /// The event type as the API server names it.
    public enum Kind: String, Sendable {
        case added = "ADDED"
        case modified = "MODIFIED"
        case deleted = "DELETED"
        /// Only a new `resourceVersion` to resume from (`allowWatchBookmarks=true`).
        case bookmark = "BOOKMARK"
        /// The object is a `Status`, e.g. 410 `Expired`: the watch is over; relist when `isGone`.
        case error = "ERROR"
    }

    public var type: Kind
    public var object: JSON

    public init(type: Kind, object: JSON) {
        self.type = type
        self.object = object
    }

    /// The object's `metadata.resourceVersion`, where a resumed watch starts.
    public var resourceVersion: String? { object.value(at: "metadata", "resourceVersion")?.string }

    /// The `Status` of an `ERROR` event as an error (check `isGone`); nil for other events.
    public var error: KubeError? { type == .error ? KubeError(status: object) : nil }

    /// Decodes one line of a watch stream.
    public static func decode(line: ArraySlice<UInt8>) throws(KubeError) -> KubeWatchEvent {
        let json: JSON
        do {
            json = try JSON.parse(Array(line))
        } catch {
            throw KubeError(.decode, "a watch event is not JSON: \(error)")
        }
        guard let typeText = json["type"]?.string, let type = Kind(rawValue: typeText) else {
            throw KubeError(.decode, "a watch event has an unknown type: \(json["type"]?.serialized ?? "none")")
        }
        return KubeWatchEvent(type: type, object: json["object"] ?? .null)
    }
}
