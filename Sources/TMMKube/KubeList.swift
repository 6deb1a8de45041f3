public import TMMJSON

/// All items of a collection and the `resourceVersion` to watch from.
public struct KubeList: Sendable {
    public var items: [JSON]
    public var resourceVersion: String
    /// How many pages the server sent.
    public var pages: Int

    public init(items: [JSON], resourceVersion: String, pages: Int) {
        self.items = items
        self.resourceVersion = resourceVersion
        self.pages = pages
    }
}

extension KubeList {
    /// The `metadata.namespace`, `metadata.name` and `metadata.resourceVersion` of every item of a list
    /// body, read without building the items.
    public static func itemMetadata(_ body: [UInt8]) throws(KubeError) -> [(namespace: String, name: String, resourceVersion: String)] {
        var out: [(namespace: String, name: String, resourceVersion: String)] = []
        do {
            try body.withUnsafeBytes { buffer in
                var scanner = JSONScanner(buffer)
                try scanner.readObject { (s, key) throws(JSONError) in
                    guard key.equals("items"), try s.peekKind() == .array else { return }
                    try s.readArray { (s) throws(JSONError) in
                        var item = (namespace: "", name: "", resourceVersion: "")
                        try s.readObject { (s, key) throws(JSONError) in
                            guard key.equals("metadata") else { return }
                            try s.readObject { (s, key) throws(JSONError) in
                                guard try s.peekKind() == .string else { return }
                                if key.equals("namespace") { item.namespace = try s.readString() }
                                else if key.equals("name") { item.name = try s.readString() }
                                else if key.equals("resourceVersion") { item.resourceVersion = try s.readString() }
                            }
                        }
                        out.append(item)
                    }
                }
            }
        } catch {
            throw KubeError(.decode, "cannot read a list's items: \(error)")
        }
        return out
    }
}

extension KubeList {
    /// `metadata.continue` and `metadata.resourceVersion` of a list body, without reading its items.
    public static func metadata(of body: [UInt8]) -> (continue: String, resourceVersion: String) {
        var next = ""
        var version = ""
        body.withUnsafeBytes { buffer in
            var scanner = JSONScanner(buffer)
            try? scanner.readObject { (s, key) throws(JSONError) in
                guard key.equals("metadata") else { return }
                try s.readObject { (s, key) throws(JSONError) in
                    if key.equals("continue") { next = try s.readOptionalString() ?? "" }
                    else if key.equals("resourceVersion") { version = try s.readOptionalString() ?? "" }
                }
            }
        }
        return (next, version)
    }
}
