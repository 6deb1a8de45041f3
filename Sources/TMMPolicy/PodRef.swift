/// A pod's namespace and name.
public struct PodRef: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var namespace: String
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
