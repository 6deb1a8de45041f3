/// The facts about a PersistentVolume that the policy reads: where it can be used.
public struct PersistentVolume: Sendable, Hashable {
    /// `metadata.name`.
    public var name: String
    /// `spec.nodeAffinity.required.nodeSelectorTerms`; empty: usable from any node.
    public var nodeAffinity: [NodeSelectorTerm]
    /// `spec.claimRef` (namespace/name), when bound.
    public var claim: PodRef?
    /// A `local` or `hostPath` volume: its data lives on one node's disks.
    public var local: Bool

    /// Creates a volume.
    public init(name: String, nodeAffinity: [NodeSelectorTerm] = [], claim: PodRef? = nil, local: Bool = false) {
        self.name = name
        self.nodeAffinity = nodeAffinity
        self.claim = claim
        self.local = local
    }
}
