/// One required term of a pod's `podAffinity` or `podAntiAffinity`
/// (`requiredDuringSchedulingIgnoredDuringExecution[]`).
public struct PodAffinityTerm: Sendable, Hashable {
    /// Which pods the term is about; `nil` matches no pod. `matchLabelKeys` and `mismatchLabelKeys` are
    /// already folded in (as `In`/`NotIn` the owner's own values), as the API server does.
    public var labelSelector: LabelSelector?
    /// The namespaces searched. Empty with no ``namespaceSelector``: the owner's namespace.
    public var namespaces: [String]
    /// Namespaces selected by label. The state has no Namespace objects, so it is matched against the
    /// one label every namespace carries, `kubernetes.io/metadata.name`; the empty selector matches all.
    public var namespaceSelector: LabelSelector?
    /// The node label whose values are the domains (`kubernetes.io/hostname`, a zone label, …).
    public var topologyKey: String

    /// Creates a term.
    public init(
        labelSelector: LabelSelector?, namespaces: [String] = [], namespaceSelector: LabelSelector? = nil,
        topologyKey: String
    ) {
        self.labelSelector = labelSelector
        self.namespaces = namespaces
        self.namespaceSelector = namespaceSelector
        self.topologyKey = topologyKey
    }
}
