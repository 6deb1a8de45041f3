/// A pod's namespace and name.
public struct PodRef: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The pod's namespace.
    public var namespace: String
    /// The pod's name.
    public var name: String

    /// Creates a reference.
    public init(namespace: String, name: String) {
        self.namespace = namespace
        self.name = name
    }

    /// `namespace/name`.
    public var description: String { "\(namespace)/\(name)" }

    public static func < (a: PodRef, b: PodRef) -> Bool {
        (a.namespace, a.name) < (b.namespace, b.name)
    }
}
