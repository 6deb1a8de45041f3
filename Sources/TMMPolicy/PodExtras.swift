/// What restricts a pod beyond its ``SchedulingProfile``, compiled; ``ClusterState`` keeps one only for
/// the pods that have any (most pods have none).
struct PodExtras: Sendable {
    /// Extended resource requests, by interned name.
    var extended: [ExtendedAmount] = []
    var hostPorts: [HostPort] = []
    /// Ids of ``CompiledPodTerm``s of the state.
    var affinity: [Int32] = []
    var antiAffinity: [Int32] = []
    /// Ids of ``CompiledSpread``s of the state (`DoNotSchedule` and `ScheduleAnyway`).
    var spread: [Int32] = []
    var claims: [String] = []

    var isEmpty: Bool {
        extended.isEmpty && hostPorts.isEmpty && affinity.isEmpty && antiAffinity.isEmpty && spread.isEmpty
            && claims.isEmpty
    }
}

/// An amount of one extended resource.
struct ExtendedAmount: Sendable, Hashable {
    var name: Int32
    var amount: Int64
}

/// A ``PodAffinityTerm`` with its owner's namespace resolved and its strings interned. A class: the
/// state shares one per distinct term, and a decision reads it without copying its fields.
final class CompiledPodTerm: Sendable {
    /// The term, `namespaces` filled with the owner's when it named none.
    let source: PodAffinityTerm
    let selector: CompiledSelector?
    let namespaces: Set<Int32>
    /// Non-nil: namespaces are chosen by this selector (on `kubernetes.io/metadata.name`) as well.
    let namespaceSelector: LabelSelector?
    let topologyKey: Int32

    init(_ term: PodAffinityTerm, table: inout StringTable) {
        source = term
        selector = term.labelSelector.map { CompiledSelector($0, table: &table) }
        namespaces = Set(term.namespaces.map { table.intern($0) })
        namespaceSelector = term.namespaceSelector
        topologyKey = table.intern(term.topologyKey)
    }

    /// True when the term looks at pods of namespace `ns`.
    func covers(namespace ns: Int32, _ table: StringTable) -> Bool {
        if namespaces.contains(ns) { return true }
        guard let namespaceSelector else { return false }
        return namespaceSelector.matches(["kubernetes.io/metadata.name": table[ns]])
    }

    /// True when pod `p` is one the term is about.
    func matches(_ p: PodRecord, _ table: StringTable) -> Bool {
        guard let selector, covers(namespace: p.namespace, table) else { return false }
        return selector.matches(p.labels, table)
    }

    /// `app=db in kubernetes.io/hostname`, for messages.
    var summary: String {
        let s = source.labelSelector.map { $0.isEmpty ? "every pod" : $0.description } ?? "no pod"
        return "\(s) per \(source.topologyKey)"
    }
}

/// A ``TopologySpreadConstraint`` of one namespace, interned.
struct CompiledSpread: Sendable {
    var source: TopologySpreadConstraint
    var selector: CompiledSelector?
    var topologyKey: Int32

    init(_ c: TopologySpreadConstraint, table: inout StringTable) {
        source = c
        selector = c.labelSelector.map { CompiledSelector($0, table: &table) }
        topologyKey = table.intern(c.topologyKey)
    }
}

/// A node selector term (of a pod's node affinity or a volume's), interned.
struct CompiledNodeTerm: Sendable {
    var expressions: CompiledSelector
    var fields: [LabelRequirement]

    init(_ term: NodeSelectorTerm, table: inout StringTable) {
        expressions = CompiledSelector(LabelSelector(term.matchExpressions), table: &table)
        fields = term.matchFields
    }

    /// True when `node` satisfies every requirement; an empty term matches nothing, as in Kubernetes.
    func matches(_ node: NodeRecord, _ table: StringTable) -> Bool {
        if expressions.requirements.isEmpty && fields.isEmpty { return false }
        guard expressions.matches(node.labels, table) else { return false }
        return fields.allSatisfy { $0.matches($0.key == "metadata.name" ? node.name : nil) }
    }
}

/// A PersistentVolume as ``ClusterState`` stores it.
struct VolumeRecord: Sendable {
    var source: PersistentVolume
    var terms: [CompiledNodeTerm]

    /// True when a pod using the volume may run on `node` (the VolumeBinding filter for a bound claim).
    func admits(_ node: NodeRecord, _ table: StringTable) -> Bool {
        terms.isEmpty || terms.contains { $0.matches(node, table) }
    }
}

/// A key of the pods-by-label index: one label pair in one namespace.
struct NamespacedLabel: Hashable, Sendable {
    var namespace: Int32
    var pair: UInt64
}
