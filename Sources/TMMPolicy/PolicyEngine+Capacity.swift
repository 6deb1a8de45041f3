extension PolicyEngine {
    /// Rule 6: first fit decreasing of the pods `scope` onto the nodes that can take them, through the
    /// scheduler's filters (see ``Placer``).
    func place(
        _ scope: [Int32], target: Int32, state: ClusterState, inMaintenance: Set<Int32>, level: MaintenanceLevel,
        carried: Set<Int32> = []
    ) -> [Placement] {
        Placer(state: state, target: target, inMaintenance: inMaintenance, level: level, carried: carried).place(scope)
    }
}

/// Places the pods leaving a node as kube-scheduler would, one after the other, each counting the ones
/// placed before it: the filters NodeUnschedulable, TaintToleration, NodeAffinity, NodePorts,
/// NodeResourcesFit, VolumeBinding (node affinity of bound volumes), PodTopologySpread (`DoNotSchedule`)
/// and InterPodAffinity (required terms, both ways).
///
/// Nodes are tried in id order and most pods fit in one of the first few, so a decision does not visit
/// every node; only a pod that fits nowhere costs a full scan, which also collects why each node refused.
///
/// A class, used by one decision on one thread: its methods and their closures share one instance
/// instead of copying the state and the caches.
final class Placer {
    let state: ClusterState
    let target: Int32
    let inMaintenance: Set<Int32>
    let level: MaintenanceLevel
    /// Pods of other nodes leaving with this one (the rollout planner's wave).
    let carried: Set<Int32>

    /// Profile-on-node answers, computed once per decision: bit 0 computed, bit 1 taints tolerated,
    /// bit 2 nodeSelector and node affinity matched.
    var fit: [Int64: UInt8] = [:]
    /// Eligible domain counts per (profile, topology key, node affinity and taint policies), for spread
    /// constraints.
    var domainCounts: [Int64: Int] = [:]
    /// What this decision placed so far.
    var placedResources: [Int32: Resources] = [:]
    var placedExtended: [Int32: [Int32: Int64]] = [:]
    var placedPorts: [Int32: [(port: HostPort, pod: Int32)]] = [:]
    var placed: [(pod: Int32, node: Int32)] = []
    /// The placed pods that hold required anti-affinity terms.
    var placedAnti: [(pod: Int32, node: Int32, terms: [Int32])] = []

    init(state: ClusterState, target: Int32, inMaintenance: Set<Int32>, level: MaintenanceLevel, carried: Set<Int32>) {
        self.state = state
        self.target = target
        self.inMaintenance = inMaintenance
        self.level = level
        self.carried = carried
    }

    /// Everything about one pod that the per-node checks read, computed once before trying nodes.
    struct Mover {
        var slot: Int32
        var profile: Int32
        var need: Resources
        var extras: PodExtras?
        var volumes: [(claim: String, volume: VolumeRecord)] = []
        /// The mover's anti-affinity: topology key → value → a pod it must not share the domain with.
        var anti: [Int32: [Int32: Int32]] = [:]
        /// Other pods' anti-affinity against the mover.
        var repelled: [Int32: [Int32: Int32]] = [:]
        /// The mover's affinity terms: term id, key and the values holding a matching pod.
        var affinity: [(term: Int32, key: Int32, values: Set<Int32>)] = []
        /// No pod matches any affinity term and the mover matches them all: any node with the keys.
        var affinityBySelf = false
        var spread: [Spread] = []
    }

    struct Spread {
        var id: Int32
        var key: Int32
        var maxSkew: Int
        var counts: [Int32: Int]
        var minimum: Int
        var selfMatch: Int
    }

    /// Why one node refused one pod: the first filter that failed, in the scheduler's order.
    enum Rejection: Hashable {
        case notReady, cordoned, inMaintenance
        case taint(Taint)
        case nodeAffinity
        case hostPort(HostPort, holder: Int32)
        case resources
        case volume(String)
        case spread(Int32)
        case podAffinity(Int32)
        case podAntiAffinity(holder: Int32)
        case repelledBy(holder: Int32)

        var rank: Int {
            switch self {
            case .notReady: 0
            case .cordoned: 1
            case .inMaintenance: 2
            case .taint: 3
            case .nodeAffinity: 4
            case .hostPort: 5
            case .resources: 6
            case .volume: 7
            case .spread: 8
            case .podAffinity: 9
            case .podAntiAffinity: 10
            case .repelledBy: 11
            }
        }
    }

    // MARK: Placing

    func place(_ scope: [Int32]) -> [Placement] {
        // Largest first: cpu, then memory, then name for a stable order.
        let order = scope.sorted { a, b in
            let ra = state.pods[Int(a)].requests
            let rb = state.pods[Int(b)].requests
            if ra.cpuMillis != rb.cpuMillis { return ra.cpuMillis > rb.cpuMillis }
            if ra.memoryBytes != rb.memoryBytes { return ra.memoryBytes > rb.memoryBytes }
            return state.podRef(a) < state.podRef(b)
        }
        var placements: [Placement] = []
        for slot in order {
            let pod = state.pods[Int(slot)]
            var mover = Mover(slot: slot, profile: pod.profile, need: pod.requests, extras: state.podExtras[slot])
            mover.volumes = state.constrainingVolumes(of: slot)
            // A volume only this node can reach pins the pod: it waits for the node, or cannot drain.
            if let pin = mover.volumes.first(where: { pinned($0.volume) }) {
                let what = volumeText(pin.claim, pin.volume, namespace: pod.namespace)
                if level == .plannedDowntime {
                    placements.append(
                        Placement(pod: state.podRef(slot), requests: pod.requests, node: nil, lacking: nil,
                            waitsFor: what))
                } else {
                    placements.append(
                        Placement(pod: state.podRef(slot), requests: pod.requests, node: nil,
                            lacking: "\(what) is local to \(state.nodes[Int(target)].name) (PersistentVolume node affinity); "
                                + "a drain leaves it nowhere to go"))
                }
                continue
            }
            prepare(&mover)
            var chosen: Int32?
            for i in 0..<Int32(state.nodes.count) where rejection(mover, i, full: false) == nil {
                chosen = i
                break
            }
            if let chosen {
                record(mover, on: chosen)
                placements.append(
                    Placement(pod: state.podRef(slot), requests: pod.requests, node: state.nodes[Int(chosen)].name, lacking: nil))
            } else {
                placements.append(
                    Placement(pod: state.podRef(slot), requests: pod.requests, node: nil, lacking: explain(mover)))
            }
        }
        return placements
    }

    /// True when no present node but the target satisfies the volume's node affinity.
    func pinned(_ v: VolumeRecord) -> Bool {
        v.admits(state.nodes[Int(target)], state.strings)
            && state.nodes(satisfying: v.terms, except: target, first: true).isEmpty
    }

    func volumeText(_ claim: String, _ v: VolumeRecord, namespace: Int32) -> String {
        "\(v.source.local ? "local " : "")volume \(v.source.name) (claim \(state.strings[namespace])/\(claim))"
    }

    func record(_ mover: Mover, on node: Int32) {
        placedResources[node, default: .zero] = (placedResources[node] ?? .zero) + mover.need
        if let extras = mover.extras {
            for e in extras.extended { placedExtended[node, default: [:]][e.name, default: 0] += e.amount }
            for p in extras.hostPorts { placedPorts[node, default: []].append((p, mover.slot)) }
            if !extras.antiAffinity.isEmpty { placedAnti.append((mover.slot, node, extras.antiAffinity)) }
        }
        placed.append((mover.slot, node))
    }

    // MARK: Per-pod preparation

    /// A pod counts where it is unless it leaves with this decision.
    @inline(__always)
    func staying(_ slot: Int32) -> Int32? {
        let i = Int(slot)
        let node = state.pods[i].node
        guard state.pods[i].present, !state.pods[i].isTerminal, node >= 0, node != target, !carried.contains(slot),
            state.nodes[Int(node)].present
        else { return nil }
        return node
    }

    @inline(__always)
    func value(_ node: Int32, _ key: Int32) -> Int32? { state.nodes[Int(node)].labels.value(key) }

    /// Every pod a term is about, where it stands after this decision's placements so far.
    func forEachMatch(_ term: CompiledPodTerm, except mover: Int32, _ body: (Int32, Int32) -> Void) {
        guard let selector = term.selector else { return }
        var namespaces = Array(term.namespaces)
        if term.namespaceSelector != nil {
            namespaces = state.podsByNamespace.keys.filter { term.covers(namespace: $0, state.strings) }
        }
        for ns in namespaces {
            state.forEachPod(in: ns, matching: selector) { slot in
                if slot != mover, let node = staying(slot) { body(slot, node) }
            }
        }
        for (slot, node) in placed where slot != mover && term.matches(state.pods[Int(slot)], state.strings) {
            body(slot, node)
        }
    }

    func prepare(_ m: inout Mover) {
        let pod = state.pods[Int(m.slot)]
        // Other pods' required anti-affinity that the mover matches.
        let ns = pod.namespace
        func repel(_ t: Int32) {
            let term = state.podTerms[Int(t)]
            guard term.matches(pod, state.strings), let holders = state.antiAffinityHolders[t] else { return }
            let key = term.topologyKey
            for h in holders where h != m.slot {
                if let node = staying(h), let v = value(node, key) { m.repelled[key, default: [:]][v] = h }
            }
        }
        for t in state.antiTermsByNamespace[ns] ?? [] { repel(t) }
        for t in state.antiTermsAnyNamespace { repel(t) }
        for (slot, node, terms) in placedAnti where slot != m.slot {
            for t in terms where state.podTerms[Int(t)].matches(pod, state.strings) {
                let key = state.podTerms[Int(t)].topologyKey
                if let v = value(node, key) { m.repelled[key, default: [:]][v] = slot }
            }
        }
        guard let extras = m.extras else { return }
        // The mover's own anti-affinity and affinity.
        for t in extras.antiAffinity {
            let term = state.podTerms[Int(t)]
            forEachMatch(term, except: m.slot) { slot, node in
                if let v = value(node, term.topologyKey) { m.anti[term.topologyKey, default: [:]][v] = slot }
            }
        }
        var anyMatch = false
        var selfMatch = true
        for t in extras.affinity {
            let term = state.podTerms[Int(t)]
            var values = Set<Int32>()
            forEachMatch(term, except: m.slot) { _, node in
                anyMatch = true
                if let v = value(node, term.topologyKey) { values.insert(v) }
            }
            if !term.matches(pod, state.strings) { selfMatch = false }
            m.affinity.append((t, term.topologyKey, values))
        }
        m.affinityBySelf = !extras.affinity.isEmpty && !anyMatch && selfMatch
        // Spread constraints that filter.
        for id in extras.spread {
            let c = state.spreads[Int(id)]
            guard c.source.doNotSchedule else { continue }
            var counts: [Int32: Int] = [:]
            // Whether a node must be checked before its pods count (only with a policy that filters).
            let filtered = (c.source.honorNodeAffinity && state.profiles[Int(m.profile)].restrictsNodes) || c.source.honorTaints
            if let selector = c.selector {
                state.forEachPod(in: ns, matching: selector) { slot in
                    if slot != m.slot, let node = staying(slot), let v = value(node, c.topologyKey),
                        !filtered || eligible(node, m.profile, c.source)
                    {
                        counts[v, default: 0] += 1
                    }
                }
                for (slot, node) in placed where slot != m.slot && state.pods[Int(slot)].namespace == ns {
                    if selector.matches(state.pods[Int(slot)].labels, state.strings), let v = value(node, c.topologyKey),
                        !filtered || eligible(node, m.profile, c.source)
                    {
                        counts[v, default: 0] += 1
                    }
                }
            }
            let domains = eligibleDomains(m.profile, c)
            var minimum = 0
            if let need = c.source.minDomains, domains < need {
                minimum = 0
            } else if counts.count >= domains, let least = counts.values.min() {
                minimum = least
            }
            let selfMatch = c.selector?.matches(pod.labels, state.strings) == true ? 1 : 0
            m.spread.append(Spread(id: id, key: c.topologyKey, maxSkew: c.source.maxSkew, counts: counts, minimum: minimum, selfMatch: selfMatch))
        }
    }

    // MARK: Node checks

    /// The profile-on-node bits (see ``fit``).
    func fitBits(_ profile: Int32, _ node: Int32) -> UInt8 {
        let key = Int64(profile) << 32 | Int64(node)
        if let known = fit[key] { return known }
        var bits: UInt8 = 1
        if state.profiles[Int(profile)].untolerated(state.nodes[Int(node)].taints) == nil { bits |= 2 }
        if state.profiles[Int(profile)].matchesNode(state.nodes[Int(node)], state.strings) { bits |= 4 }
        fit[key] = bits
        return bits
    }

    /// Whether node `node` makes a domain and counts pods for a spread constraint of a pod of `profile`.
    func eligible(_ node: Int32, _ profile: Int32, _ c: TopologySpreadConstraint) -> Bool {
        let p = state.profiles[Int(profile)]
        let n = state.nodes[Int(node)]
        if c.honorNodeAffinity && p.restrictsNodes && !p.matchesNode(n, state.strings) { return false }
        if c.honorTaints {
            if p.untolerated(n.taints) != nil { return false }
            if n.unschedulable && p.untolerated([Taint(key: "node.kubernetes.io/unschedulable", effect: "NoSchedule")]) != nil {
                return false
            }
            if node == target || inMaintenance.contains(node) {
                let maintenance = Taint(key: "drain", value: level.rawValue, effect: "NoSchedule")
                if p.untolerated([maintenance]) != nil { return false }
            }
        }
        return true
    }

    /// How many domains of the constraint's key hold an eligible node.
    func eligibleDomains(_ profile: Int32, _ c: CompiledSpread) -> Int {
        let byValue = state.nodesByLabel[c.topologyKey] ?? [:]
        let p = state.profiles[Int(profile)]
        let unrestricted = (!c.source.honorNodeAffinity || !p.restrictsNodes) && !c.source.honorTaints
        if unrestricted { return byValue.count }
        let key =
            Int64(profile) << 34 | Int64(c.topologyKey) << 2 | (c.source.honorNodeAffinity ? 2 : 0)
            | (c.source.honorTaints ? 1 : 0)
        if let known = domainCounts[key] { return known }
        var count = 0
        for (_, ids) in byValue where ids.contains(where: { eligible($0, profile, c.source) }) { count += 1 }
        domainCounts[key] = count
        return count
    }

    /// The first filter node `i` fails for the mover, or nil when it can take it. With `full` false the
    /// cheap checks run first and the answer only says whether it fits.
    func rejection(_ m: Mover, _ i: Int32, full: Bool) -> Rejection? {
        // Fields are read one by one: binding the whole NodeRecord would copy (retain) all of it.
        let n = Int(i)
        guard state.nodes[n].present, i != target else { return .inMaintenance }
        if !state.nodes[n].ready { return .notReady }
        if state.nodes[n].unschedulable { return .cordoned }
        if inMaintenance.contains(i) { return .inMaintenance }
        if !full && !resourcesFit(m, i) { return .resources }
        let bits = fitBits(m.profile, i)
        if bits & 2 == 0 {
            return .taint(full ? state.profiles[Int(m.profile)].untolerated(state.nodes[n].taints)! : Taint(key: "", effect: ""))
        }
        if bits & 4 == 0 { return .nodeAffinity }
        if let extras = m.extras, !extras.hostPorts.isEmpty, let clash = portClash(extras.hostPorts, i) {
            return .hostPort(clash.0, holder: clash.1)
        }
        if full && !resourcesFit(m, i) { return .resources }
        for (_, v) in m.volumes where !v.admits(state.nodes[n], state.strings) { return .volume(v.source.name) }
        for s in m.spread {
            guard let v = state.nodes[n].labels.value(s.key) else { return .spread(s.id) }
            if (s.counts[v] ?? 0) + s.selfMatch - s.minimum > s.maxSkew { return .spread(s.id) }
        }
        for a in m.affinity {
            guard let v = state.nodes[n].labels.value(a.key) else { return .podAffinity(a.term) }
            if !m.affinityBySelf && !a.values.contains(v) { return .podAffinity(a.term) }
        }
        for (key, values) in m.anti {
            if let v = state.nodes[n].labels.value(key), let holder = values[v] { return .podAntiAffinity(holder: holder) }
        }
        for (key, values) in m.repelled {
            if let v = state.nodes[n].labels.value(key), let holder = values[v] { return .repelledBy(holder: holder) }
        }
        return nil
    }

    func free(_ i: Int32) -> Resources {
        state.nodes[Int(i)].allocatable - state.nodes[Int(i)].used - (placedResources[i] ?? .zero)
    }

    func extendedFree(_ name: Int32, _ i: Int32) -> Int64 {
        (state.nodes[Int(i)].extendedAllocatable[name] ?? 0) - (state.nodes[Int(i)].extendedUsed[name] ?? 0)
            - (placedExtended[i]?[name] ?? 0)
    }

    func resourcesFit(_ m: Mover, _ i: Int32) -> Bool {
        guard free(i).covers(m.need) else { return false }
        if let extras = m.extras {
            for e in extras.extended where extendedFree(e.name, i) < e.amount { return false }
        }
        return true
    }

    func portClash(_ ports: [HostPort], _ i: Int32) -> (HostPort, Int32)? {
        for slot in state.nodes[Int(i)].portPods where !carried.contains(slot) {
            for theirs in state.podExtras[slot]?.hostPorts ?? [] {
                for mine in ports where mine.conflicts(with: theirs) { return (mine, slot) }
            }
        }
        for (theirs, slot) in placedPorts[i] ?? [] {
            for mine in ports where mine.conflicts(with: theirs) { return (mine, slot) }
        }
        return nil
    }

    // MARK: Explaining

    /// Why no node takes the mover: every node's first failing filter, grouped by filter and detail.
    func explain(_ m: Mover) -> String {
        var groups: [Rejection: [Int32]] = [:]
        var candidates = 0
        for i in 0..<Int32(state.nodes.count) where i != target && state.nodes[Int(i)].present {
            guard let r = rejection(m, i, full: true) else { continue }
            groups[r, default: []].append(i)
            if r.rank > Rejection.inMaintenance.rank { candidates += 1 }
        }
        if groups.isEmpty { return "no other node" }
        var byRank: [Int: [(Rejection, [Int32])]] = [:]
        for (r, ids) in groups { byRank[r.rank, default: []].append((r, ids.sorted())) }
        var parts: [String] = []
        for rank in byRank.keys.sorted() {
            let entries = byRank[rank]!.sorted { a, b in
                a.1.count != b.1.count ? a.1.count > b.1.count : a.1[0] < b.1[0]
            }
            parts.append(render(entries, m))
        }
        let text = parts.joined(separator: "; ")
        return candidates == 0 ? "no other node is Ready, schedulable and out of maintenance: " + text : text
    }

    func nodeList(_ ids: [Int32]) -> String {
        let names = ids.map { state.nodes[Int($0)].name }
        if names.count <= 3 { return PolicyEngine.and(names) }
        return "\(names.count) nodes (\(names.prefix(3).joined(separator: ", ")), …)"
    }

    func render(_ entries: [(Rejection, [Int32])], _ m: Mover) -> String {
        let first = entries[0].0
        var lastPort: HostPort?
        var shown = entries.prefix(3).map { r, ids -> String in
            let on = "on " + nodeList(ids)
            switch r {
            case .notReady, .cordoned, .inMaintenance, .nodeAffinity, .resources: return on
            case .taint(let t): return "\(t) \(on)"
            case .hostPort(let p, let holder):
                defer { lastPort = p }
                return (lastPort == p ? "" : "\(p) held by ") + "\(state.podRef(holder)) \(on)"
            case .volume(let name): return "\(name) \(on)"
            case .spread(let id):
                let c = state.spreads[Int(id)].source
                return "(\(c.topologyKey), maxSkew \(c.maxSkew)) \(on)"
            case .podAffinity(let t): return "(\(state.podTerms[Int(t)].summary)) \(on)"
            case .podAntiAffinity(let holder), .repelledBy(let holder): return "\(state.podRef(holder)) \(on)"
            }
        }
        if entries.count > 3 { shown.append("\(entries.count - 3) more") }
        let details = PolicyEngine.and(shown)
        switch first {
        case .notReady: return "not Ready \(details)"
        case .cordoned: return "cordoned \(details)"
        case .inMaintenance: return "in maintenance \(details)"
        case .taint: return "untolerated taint \(details)"
        case .nodeAffinity: return "nodeSelector or required node affinity not matched \(details)"
        case .hostPort: return "host port \(details)"
        case .resources:
            let ids = entries.flatMap(\.1)
            return lacking(m, ids) + " " + details
        case .volume: return "node affinity of volume \(details)"
        case .spread: return "topology spread constraint \(details)"
        case .podAffinity: return "required pod affinity \(details)"
        case .podAntiAffinity: return "required anti-affinity with \(details)"
        case .repelledBy: return "required anti-affinity of \(details)"
        }
    }

    /// What the mover needs that the nodes `ids` (refused for resources) lack, at best.
    func lacking(_ m: Mover, _ ids: [Int32]) -> String {
        let need = m.need
        var best = Resources(cpuMillis: .min, memoryBytes: .min, pods: .min, ephemeralStorageBytes: .min)
        for i in ids {
            let f = free(i)
            best = Resources(
                cpuMillis: max(best.cpuMillis, f.cpuMillis), memoryBytes: max(best.memoryBytes, f.memoryBytes),
                pods: max(best.pods, f.pods), ephemeralStorageBytes: max(best.ephemeralStorageBytes, f.ephemeralStorageBytes))
        }
        var short: [String] = []
        if best.cpuMillis < need.cpuMillis {
            short.append("cpu \(Resources.formatCPU(need.cpuMillis)), at most \(Resources.formatCPU(max(0, best.cpuMillis))) free")
        }
        if best.memoryBytes < need.memoryBytes {
            short.append(
                "memory \(Resources.formatMemory(need.memoryBytes)), at most \(Resources.formatMemory(max(0, best.memoryBytes))) free")
        }
        if need.ephemeralStorageBytes > 0 && best.ephemeralStorageBytes < need.ephemeralStorageBytes {
            short.append(
                "ephemeral-storage \(Resources.formatMemory(need.ephemeralStorageBytes)), at most "
                    + "\(Resources.formatMemory(max(0, best.ephemeralStorageBytes))) free")
        }
        if best.pods < need.pods { short.append("a pod slot, none free") }
        for e in m.extras?.extended ?? [] {
            let most = ids.map { extendedFree(e.name, $0) }.max() ?? 0
            if most < e.amount { short.append("\(state.strings[e.name]) \(e.amount), at most \(max(0, most)) free") }
        }
        if short.isEmpty {
            return "needs cpu \(Resources.formatCPU(need.cpuMillis)) and memory \(Resources.formatMemory(need.memoryBytes)) "
                + "together, which no node has free"
        }
        return "needs " + short.joined(separator: "; ")
    }
}

extension PolicyEngine {
    /// `a`, `a and b`, `a, b and c`.
    static func and(_ items: [String]) -> String {
        if items.count <= 1 { return items.first ?? "" }
        return items.dropLast().joined(separator: ", ") + " and " + items.last!
    }
}
