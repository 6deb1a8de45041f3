/// One term of a pod's required node affinity (`nodeSelectorTerms[]`); terms are ORed.
public struct NodeSelectorTerm: Sendable, Hashable {
    /// Requirements on node labels (`In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt`, `Lt`).
    public var matchExpressions: [LabelRequirement]
    /// Requirements on node fields; only `metadata.name` exists.
    public var matchFields: [LabelRequirement]

    /// Creates a term.
    public init(matchExpressions: [LabelRequirement] = [], matchFields: [LabelRequirement] = []) {
        self.matchExpressions = matchExpressions
        self.matchFields = matchFields
    }

    /// True when the node satisfies every requirement. A term with no requirement matches nothing,
    /// as in Kubernetes.
    public func matches(labels: [String: String], nodeName: String) -> Bool {
        if matchExpressions.isEmpty && matchFields.isEmpty { return false }
        for r in matchExpressions where !r.matches(labels[r.key]) { return false }
        for r in matchFields where !r.matches(r.key == "metadata.name" ? nodeName : nil) { return false }
        return true
    }
}
