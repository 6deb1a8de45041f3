public import TMMJSON

/// One event of a WATCH stream: a line `{"type": ..., "object": ...}`.
///
/// The line is scanned once: the event keeps the object's bytes verbatim (validated) and the few
/// metadata fields a cache needs, so a consumer decodes the object itself exactly once, straight from
/// the bytes, without a JSON tree in between.
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
    /// The `object` member's JSON text, verbatim.
    public var objectBytes: [UInt8]
    /// The object's `metadata.resourceVersion`, where a resumed watch starts.
    public var resourceVersion: String?
    /// The object's `metadata.namespace` ("" for cluster-scoped objects) and `metadata.name`.
    public var namespace: String
    public var name: String

    public init(type: Kind, objectBytes: [UInt8], resourceVersion: String?, namespace: String = "", name: String = "") {
        self.type = type
        self.objectBytes = objectBytes
        self.resourceVersion = resourceVersion
        self.namespace = namespace
        self.name = name
    }

    /// An event around a parsed object (tests, emulators).
    public init(type: Kind, object: JSON) {
        self.init(
            type: type, objectBytes: Array(object.serialized.utf8),
            resourceVersion: object.value(at: "metadata", "resourceVersion")?.string,
            namespace: object.value(at: "metadata", "namespace")?.string ?? "",
            name: object.value(at: "metadata", "name")?.string ?? "")
    }

    /// The object as a JSON tree. Parses the bytes on each call: for errors, logs and tests, not for
    /// the cache's hot path.
    public var object: JSON { (try? JSON.parse(objectBytes)) ?? .null }

    /// The `Status` of an `ERROR` event as an error (check `isGone`); nil for other events.
    public var error: KubeError? { type == .error ? KubeError(status: object) : nil }

    /// Decodes one line of a watch stream.
    public static func decode(line: ArraySlice<UInt8>) throws(KubeError) -> KubeWatchEvent {
        var typeText: String?
        var objectBytes: [UInt8]?
        var version: String?
        var namespace = ""
        var name = ""
        do {
            try line.withUnsafeBytes { buffer in
                var scanner = JSONScanner(buffer)
                try scanner.readObject { (s, key) throws(JSONError) in
                    if key.equals("type") {
                        typeText = try s.readOptionalString()
                    } else if key.equals("object") {
                        let raw = try s.rawValue()
                        objectBytes = Array(raw)
                        var inner = JSONScanner(raw)
                        guard try inner.peekKind() == .object else { return }
                        try inner.readObject { (s, key) throws(JSONError) in
                            guard key.equals("metadata"), try s.peekKind() == .object else { return }
                            try s.readObject { (s, key) throws(JSONError) in
                                guard try s.peekKind() == .string else { return }
                                if key.equals("resourceVersion") { version = try s.readString() }
                                else if key.equals("name") { name = try s.readString() }
                                else if key.equals("namespace") { namespace = try s.readString() }
                            }
                        }
                    }
                }
                try scanner.expectEnd()
            }
        } catch {
            throw KubeError(.decode, "a watch event is not JSON: \(error)")
        }
        guard let typeText, let type = Kind(rawValue: typeText) else {
            throw KubeError(.decode, "a watch event has an unknown type: \(typeText ?? "none")")
        }
        return KubeWatchEvent(
            type: type, objectBytes: objectBytes ?? Array("null".utf8), resourceVersion: version, namespace: namespace, name: name)
    }
}
