/// The facts about a PersistentVolumeClaim that the policy reads: the volume it is bound to.
public struct PersistentVolumeClaim: Sendable, Hashable {
    /// `metadata.namespace`.
    public var namespace: String
    /// `metadata.name`.
    public var name: String
    /// `spec.volumeName`; `nil` while unbound.
    public var volumeName: String?

    /// Creates a claim.
    public init(namespace: String, name: String, volumeName: String?) {
        self.namespace = namespace
        self.name = name
        self.volumeName = volumeName
    }
}
