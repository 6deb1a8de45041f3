/// What restricts where a pod may run: tolerations, node selector and required node affinity.
/// Pods of one workload share a profile, so the state keeps each distinct profile once and the
/// capacity rule evaluates each profile against each node at most once per decision.
struct SchedulingProfile: Sendable, Hashable {
    var tolerations: [Toleration]
    var nodeSelector: [LabelRequirement]
    var affinity: [NodeSelectorTerm]

    init(_ pod: Pod) {
        tolerations = pod.tolerations
        nodeSelector = pod.nodeSelector.sorted { $0.key < $1.key }.map { LabelRequirement($0.key, .in, [$0.value]) }
        affinity = pod.requiredNodeAffinity
    }
}

/// A profile compiled against the state's string table.
struct CompiledProfile: Sendable {
    var source: SchedulingProfile
    var nodeSelector: CompiledSelector
    var terms: [(expressions: CompiledSelector, fields: [LabelRequirement])]

    init(_ p: SchedulingProfile, table: inout StringTable) {
        source = p
        nodeSelector = CompiledSelector(LabelSelector(p.nodeSelector), table: &table)
        terms = p.affinity.map { (CompiledSelector(LabelSelector($0.matchExpressions), table: &table), $0.matchFields) }
    }

    /// True when a pod of this profile may be placed on `node` (taints, selector, affinity).
    func admits(_ node: NodeRecord, _ table: StringTable) -> Bool {
        if !source.tolerations.toleratesAll(node.taints) { return false }
        if !nodeSelector.matches(node.labels, table) { return false }
        if terms.isEmpty { return true }
        for term in terms {
            if term.expressions.requirements.isEmpty && term.fields.isEmpty { continue }
            guard term.expressions.matches(node.labels, table) else { continue }
            if term.fields.allSatisfy({ $0.matches($0.key == "metadata.name" ? node.name : nil) }) { return true }
        }
        return false
    }
}
