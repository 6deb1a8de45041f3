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
