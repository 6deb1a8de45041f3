/// A collection a ``WatchCache`` lists and watches.
public protocol WatchedResource: Hashable, Sendable, CaseIterable where AllCases: Sendable {
    /// A short name for logs and metrics (`nodes`, `pods`).
    var name: String { get }
    /// The collection's path, e.g. `/api/v1/pods`.
    var path: String { get }
}

/// What a ``WatchCache`` keeps: the store decodes each LIST page and each watch event itself, once,
/// straight from the bytes the API server sent.
///
/// Every method runs under the cache's lock, on one of its watch threads: keep them short and never block.
public protocol WatchCacheStore: Sendable {
    associatedtype Resource: WatchedResource

    /// A full LIST of `resource` begins: what the pages hold until ``endList(_:)`` is what the server has.
    mutating func beginList(_ resource: Resource)
    /// Merges one page of the LIST (a `…List` body).
    mutating func mergeListPage(_ resource: Resource, page: [UInt8]) throws(KubeError)
    /// The LIST is complete: drops the objects it did not hold. Returns how many it held and removed.
    mutating func endList(_ resource: Resource) -> (objects: Int, removed: Int)
    /// Applies one `ADDED`, `MODIFIED` or `DELETED` event (never a bookmark or an error).
    mutating func apply(_ resource: Resource, event: KubeWatchEvent) throws(KubeError)
}
