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
    var terms: [CompiledNodeTerm]

    init(_ p: SchedulingProfile, table: inout StringTable) {
        source = p
        nodeSelector = CompiledSelector(LabelSelector(p.nodeSelector), table: &table)
        terms = p.affinity.map { CompiledNodeTerm($0, table: &table) }
    }

    /// True when the profile restricts nodes by label (nodeSelector or required node affinity).
    var restrictsNodes: Bool { !nodeSelector.requirements.isEmpty || !terms.isEmpty }

    /// True when a pod of this profile may be placed on `node` (taints, selector, affinity).
    func admits(_ node: NodeRecord, _ table: StringTable) -> Bool {
        untolerated(node.taints) == nil && matchesNode(node, table)
    }

    /// The first `NoSchedule`/`NoExecute` taint of `taints` not tolerated.
    func untolerated(_ taints: [Taint]) -> Taint? {
        for taint in taints where taint.repels {
            if !source.tolerations.contains(where: { $0.tolerates(taint) }) { return taint }
        }
        return nil
    }

    /// The NodeAffinity filter: nodeSelector, and one of the required terms when there are any.
    func matchesNode(_ node: NodeRecord, _ table: StringTable) -> Bool {
        if !nodeSelector.matches(node.labels, table) { return false }
        return terms.isEmpty || terms.contains { $0.matches(node, table) }
    }
}
