/// A compact in-memory model of a cluster's nodes, pods, PodDisruptionBudgets, PersistentVolumes and
/// PersistentVolumeClaims, with the indexes the policy needs (pods by node, by namespace and by label,
/// nodes by label, the pods each budget selects, the holders of each anti-affinity term).
///
/// A value type: copies share storage until one is mutated. Label keys and values and namespaces are
/// interned; no JSON is retained. Only the annotations named in ``keptAnnotationKeys`` are kept.
public struct ClusterState: Sendable {
    var strings = StringTable()
    var nodes: [NodeRecord] = []
    var nodeIDs: [String: Int32] = [:]
    var pods: [PodRecord] = []
    var freePodSlots: [Int32] = []
    var podIDs: [ObjectKey: Int32] = [:]
    var podsByNamespace: [Int32: Set<Int32>] = [:]
    var budgets: [BudgetRecord] = []
    var budgetIDs: [ObjectKey: Int32] = [:]
    var budgetsByNamespace: [Int32: [Int32]] = [:]
    var profiles: [CompiledProfile] = []
    var profileIDs: [SchedulingProfile: Int32] = [:]
    var annotations: [Int32: [String: String]] = [:]
    /// Present nodes with a `NoSchedule` or `NoExecute` taint valued `planned-downtime` or `drain` (any key): the only
    /// nodes that can be in maintenance, whatever the policy's taint keys.
    var maintenanceCandidates: Set<Int32> = []
    /// Present nodes not Ready or tainted unreachable/not-ready.
    var unhealthyNodes: Set<Int32> = []
    /// Present nodes by label: key id → value id → node ids (topology domains).
    var nodesByLabel: [Int32: [Int32: Set<Int32>]] = [:]
    /// Scheduling constraints beyond the profile, for the pods that have any.
    var podExtras: [Int32: PodExtras] = [:]
    /// Pods (every phase) by namespace and label pair.
    var podsByLabel: [NamespacedLabel: Set<Int32>] = [:]
    var podTerms: [CompiledPodTerm] = []
    var podTermIDs: [PodAffinityTerm: Int32] = [:]
    /// Non-terminal bound pods holding each required anti-affinity term.
    var antiAffinityHolders: [Int32: Set<Int32>] = [:]
    /// Anti-affinity terms by the namespace whose pods they repel; terms with a namespace selector are
    /// in ``antiTermsAnyNamespace``.
    var antiTermsByNamespace: [Int32: [Int32]] = [:]
    var antiTermsAnyNamespace: [Int32] = []
    var spreads: [CompiledSpread] = []
    var spreadIDs: [TopologySpreadConstraint: Int32] = [:]
    var volumes: [String: VolumeRecord] = [:]
    var claims: [ObjectKey: PersistentVolumeClaim] = [:]

    /// Pod annotations kept when loading (the others, such as `last-applied-configuration`, are dropped).
    public var keptAnnotationKeys: Set<String>

    /// Annotation keys kept by default: both spellings of the failure annotation.
    public static let defaultKeptAnnotationKeys: Set<String> = ["emm-failure", "appplatform.vmware.com/emm-failure"]

    /// An empty state.
    public init(keptAnnotationKeys: Set<String> = ClusterState.defaultKeptAnnotationKeys) {
        self.keptAnnotationKeys = keptAnnotationKeys
    }

    struct ObjectKey: Hashable, Sendable {
        var namespace: Int32
        var name: String
    }

    // MARK: Counts and reads

    /// Number of nodes present.
    public var nodeCount: Int { nodeIDs.values.reduce(0) { $0 + (nodes[Int($1)].present ? 1 : 0) } }
    /// Number of pods present.
    public var podCount: Int { podIDs.count }
    /// Number of budgets present.
    public var budgetCount: Int { budgetIDs.count }

    /// Names of the nodes present, sorted.
    public var nodeNames: [String] { nodes.filter(\.present).map(\.name).sorted() }

    /// Every pod present (unsorted).
    public var podRefs: [PodRef] { podIDs.values.map(podRef) }

    /// The pods carrying annotation `key` (a kept key), with its value and the pod's node.
    public func pods(annotatedWith key: String) -> [(pod: PodRef, value: String, node: String?)] {
        annotations.compactMap { slot, values in
            guard let value = values[key], pods.indices.contains(Int(slot)) else { return nil }
            let record = pods[Int(slot)]
            return (podRef(slot), value, record.node >= 0 ? nodes[Int(record.node)].name : nil)
        }
    }

    /// Every budget present, as namespace/name (unsorted).
    public var budgetRefs: [PodRef] {
        budgetIDs.compactMap { key, id in budgets[Int(id)].present ? PodRef(namespace: strings[key.namespace], name: key.name) : nil }
    }

    /// The node called `name`, if present.
    public func node(named name: String) -> Node? {
        guard let id = nodeIDs[name], nodes[Int(id)].present else { return nil }
        let r = nodes[Int(id)]
        var extended: [String: Int64] = [:]
        for (k, v) in r.extendedAllocatable { extended[strings[k]] = v }
        return Node(
            name: r.name, labels: r.labels.dictionary(strings), taints: r.taints, unschedulable: r.unschedulable,
            ready: r.ready, allocatable: r.allocatable, extendedAllocatable: extended)
    }

    /// The pod `namespace/name`, if present (annotations limited to the kept keys).
    public func pod(namespace: String, name: String) -> Pod? {
        guard let slot = podSlot(namespace: namespace, name: name) else { return nil }
        return podValue(slot)
    }

    /// The pods bound to node `name`, sorted.
    public func pods(onNode name: String) -> [PodRef] {
        guard let id = nodeIDs[name] else { return [] }
        return nodes[Int(id)].pods.map(podRef).sorted()
    }

    /// The budgets present, sorted by namespace and name.
    public var disruptionBudgets: [DisruptionBudget] {
        budgets.filter(\.present).map(\.source).sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
    }

    /// The annotation `key` of pod `namespace/name`, when kept.
    public func annotation(namespace: String, pod: String, key: String) -> String? {
        guard let slot = podSlot(namespace: namespace, name: pod) else { return nil }
        return annotations[slot]?[key]
    }

    func podSlot(namespace: String, name: String) -> Int32? {
        let ns = strings.lookup(namespace)
        guard ns >= 0 else { return nil }
        return podIDs[ObjectKey(namespace: ns, name: name)]
    }

    func podRef(_ slot: Int32) -> PodRef {
        let p = pods[Int(slot)]
        return PodRef(namespace: strings[p.namespace], name: p.name)
    }

    func podValue(_ slot: Int32) -> Pod {
        let r = pods[Int(slot)]
        let profile = profiles[Int(r.profile)].source
        var selector: [String: String] = [:]
        for req in profile.nodeSelector { selector[req.key] = req.values.first ?? "" }
        let extras = podExtras[slot] ?? PodExtras()
        var extended: [String: Int64] = [:]
        for e in extras.extended { extended[strings[e.name]] = e.amount }
        return Pod(
            namespace: strings[r.namespace], name: r.name, nodeName: r.node >= 0 ? nodes[Int(r.node)].name : nil,
            labels: r.labels.dictionary(strings), annotations: annotations[slot] ?? [:], phase: r.phase,
            ready: r.ready, requests: r.requests, daemonSetOwned: r.daemonSetOwned, mirror: r.mirror,
            tolerations: profile.tolerations, nodeSelector: selector, requiredNodeAffinity: profile.affinity,
            extendedRequests: extended, hostPorts: extras.hostPorts,
            podAffinity: extras.affinity.map { podTerms[Int($0)].source },
            podAntiAffinity: extras.antiAffinity.map { podTerms[Int($0)].source },
            topologySpread: extras.spread.map { spreads[Int($0)].source }, claims: extras.claims)
    }

    // MARK: Mutation

    mutating func nodeID(_ name: String) -> Int32 {
        if let id = nodeIDs[name] { return id }
        let id = Int32(nodes.count)
        nodes.append(NodeRecord(name: name))
        nodeIDs[name] = id
        return id
    }

    /// Adds or replaces a node.
    public mutating func upsert(node: Node) {
        let id = Int(nodeID(node.name))
        unindexLabels(ofNode: Int32(id))
        nodes[id].present = true
        nodes[id].labels = LabelSet(node.labels, table: &strings)
        indexLabels(ofNode: Int32(id))
        var extended: [Int32: Int64] = [:]
        for (k, v) in node.extendedAllocatable { extended[strings.intern(k)] = v }
        nodes[id].extendedAllocatable = extended
        nodes[id].taints = node.taints
        nodes[id].unschedulable = node.unschedulable
        nodes[id].ready = node.ready
        nodes[id].allocatable = node.allocatable
        refreshStatus(Int32(id))
    }

    /// Keeps ``maintenanceCandidates`` and ``unhealthyNodes`` in step with node `id`.
    mutating func refreshStatus(_ id: Int32) {
        let n = nodes[Int(id)]
        let candidate =
            n.present
            && n.taints.contains { MaintenanceLevel(taint: $0) != nil }
        if candidate { maintenanceCandidates.insert(id) } else { maintenanceCandidates.remove(id) }
        let unhealthy =
            n.present && (!n.ready || n.taints.contains { PolicyEngine.unhealthyTaintKeys.contains($0.key) })
        if unhealthy { unhealthyNodes.insert(id) } else { unhealthyNodes.remove(id) }
    }

    /// Removes the maintenance taints (for `taintKeys`) of every node; returns the nodes changed.
    mutating func clearMaintenance(taintKeys: [String]) -> [String] {
        var changed: [String] = []
        for id in maintenanceCandidates
        where MaintenanceLevel.of(nodes[Int(id)].taints, taintKeys: taintKeys) != nil {
            changed.append(nodes[Int(id)].name)
            nodes[Int(id)].taints.removeAll {
                taintKeys.contains($0.key) && MaintenanceLevel(taint: $0) != nil
            }
            refreshStatus(id)
        }
        return changed.sorted()
    }

    /// Removes a node (its pods stay, bound to a node that is now unknown and counted as down).
    public mutating func remove(node name: String) {
        guard let id = nodeIDs[name] else { return }
        unindexLabels(ofNode: id)
        nodes[Int(id)].present = false
        refreshStatus(id)
    }

    /// Adds or replaces a pod, updating the node usage and the budgets' pod sets.
    public mutating func upsert(pod: Pod) {
        let ns = strings.intern(pod.namespace)
        let key = ObjectKey(namespace: ns, name: pod.name)
        if let old = podIDs[key] { detach(old) }
        let profileKey = SchedulingProfile(pod)
        let profile: Int32
        if let p = profileIDs[profileKey] {
            profile = p
        } else {
            profile = Int32(profiles.count)
            profiles.append(CompiledProfile(profileKey, table: &strings))
            profileIDs[profileKey] = profile
        }
        let record = PodRecord(
            name: pod.name, namespace: ns, node: pod.nodeName.map { nodeID($0) } ?? -1,
            labels: LabelSet(pod.labels, table: &strings),
            requests: Resources(
                cpuMillis: pod.requests.cpuMillis, memoryBytes: pod.requests.memoryBytes, pods: 1,
                ephemeralStorageBytes: pod.requests.ephemeralStorageBytes),
            profile: profile,
            phase: pod.phase, ready: pod.ready, daemonSetOwned: pod.daemonSetOwned, mirror: pod.mirror,
            present: true)
        let slot: Int32
        if let free = podIDs[key] ?? freePodSlots.popLast() {
            slot = free
            pods[Int(slot)] = record
        } else {
            slot = Int32(pods.count)
            pods.append(record)
        }
        podIDs[key] = slot
        let extras = compileExtras(pod, namespace: ns)
        podExtras[slot] = extras.isEmpty ? nil : extras
        let kept = pod.annotations.filter { keptAnnotationKeys.contains($0.key) }
        annotations[slot] = kept.isEmpty ? nil : kept
        attach(slot)
    }

    /// Removes pod `namespace/name`.
    public mutating func remove(namespace: String, pod name: String) {
        guard let slot = podSlot(namespace: namespace, name: name) else { return }
        detach(slot)
        podIDs[ObjectKey(namespace: pods[Int(slot)].namespace, name: name)] = nil
        pods[Int(slot)].present = false
        pods[Int(slot)].labels = LabelSet()
        annotations[slot] = nil
        podExtras[slot] = nil
        freePodSlots.append(slot)
    }

    /// Sets (or, with `nil`, removes) annotation `key` of pod `namespace/name`. Returns false when the
    /// pod is unknown. The key is kept from now on.
    @discardableResult
    public mutating func setAnnotation(namespace: String, pod name: String, key: String, value: String?) -> Bool {
        guard let slot = podSlot(namespace: namespace, name: name) else { return false }
        keptAnnotationKeys.insert(key)
        var a = annotations[slot] ?? [:]
        a[key] = value
        annotations[slot] = a.isEmpty ? nil : a
        return true
    }

    /// Adds or replaces a budget and recomputes the pods it selects.
    public mutating func upsert(budget: DisruptionBudget) {
        let ns = strings.intern(budget.namespace)
        let key = ObjectKey(namespace: ns, name: budget.name)
        var record = BudgetRecord(
            source: budget, namespace: ns, selector: budget.selector.map { CompiledSelector($0, table: &strings) })
        if let selector = record.selector {
            for slot in podsByNamespace[ns] ?? [] where selector.matches(pods[Int(slot)].labels, strings) {
                record.pods.insert(slot)
            }
        }
        if let id = budgetIDs[key] {
            budgets[Int(id)] = record
        } else {
            let id = Int32(budgets.count)
            budgets.append(record)
            budgetIDs[key] = id
            budgetsByNamespace[ns, default: []].append(id)
        }
    }

    /// Removes budget `namespace/name`.
    public mutating func remove(namespace: String, budget name: String) {
        let ns = strings.lookup(namespace)
        guard ns >= 0, let id = budgetIDs[ObjectKey(namespace: ns, name: name)] else { return }
        budgetIDs[ObjectKey(namespace: ns, name: name)] = nil
        budgetsByNamespace[ns]?.removeAll { $0 == id }
        budgets[Int(id)].present = false
        budgets[Int(id)].pods = []
    }

    private mutating func attach(_ slot: Int32) {
        let p = pods[Int(slot)]
        let extras = podExtras[slot]
        if p.node >= 0 {
            let n = Int(p.node)
            nodes[n].pods.insert(slot)
            if !p.isTerminal {
                nodes[n].used = nodes[n].used + p.requests
                if let extras {
                    for e in extras.extended { nodes[n].extendedUsed[e.name, default: 0] += e.amount }
                    if !extras.hostPorts.isEmpty { nodes[n].portPods.insert(slot) }
                    for t in extras.antiAffinity { antiAffinityHolders[t, default: []].insert(slot) }
                }
            }
        }
        for pair in p.labels.pairs { podsByLabel[NamespacedLabel(namespace: p.namespace, pair: pair), default: []].insert(slot) }
        podsByNamespace[p.namespace, default: []].insert(slot)
        for b in budgetsByNamespace[p.namespace] ?? [] {
            if let s = budgets[Int(b)].selector, s.matches(p.labels, strings) { budgets[Int(b)].pods.insert(slot) }
        }
    }

    private mutating func detach(_ slot: Int32) {
        let p = pods[Int(slot)]
        let extras = podExtras[slot]
        if p.node >= 0 {
            let n = Int(p.node)
            nodes[n].pods.remove(slot)
            if !p.isTerminal {
                nodes[n].used = nodes[n].used - p.requests
                if let extras {
                    for e in extras.extended {
                        let left = (nodes[n].extendedUsed[e.name] ?? 0) - e.amount
                        nodes[n].extendedUsed[e.name] = left == 0 ? nil : left
                    }
                    nodes[n].portPods.remove(slot)
                    for t in extras.antiAffinity { antiAffinityHolders[t]?.remove(slot) }
                }
            }
        }
        for pair in p.labels.pairs {
            let key = NamespacedLabel(namespace: p.namespace, pair: pair)
            podsByLabel[key]?.remove(slot)
            if podsByLabel[key]?.isEmpty == true { podsByLabel[key] = nil }
        }
        podsByNamespace[p.namespace]?.remove(slot)
        for b in budgetsByNamespace[p.namespace] ?? [] { budgets[Int(b)].pods.remove(slot) }
    }
}
