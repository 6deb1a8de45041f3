extension ClusterState {
    // MARK: PersistentVolumes and PersistentVolumeClaims

    /// Number of PersistentVolumes present.
    public var persistentVolumeCount: Int { volumes.count }
    /// Number of PersistentVolumeClaims present.
    public var persistentVolumeClaimCount: Int { claims.count }

    /// Every PersistentVolume present, by name (unsorted), so a relist can remove the others.
    public var persistentVolumeNames: [String] { Array(volumes.keys) }

    /// Every PersistentVolumeClaim present, as namespace/name (unsorted).
    public var persistentVolumeClaimRefs: [PodRef] {
        claims.keys.map { PodRef(namespace: strings[$0.namespace], name: $0.name) }
    }

    /// The PersistentVolume called `name`, if present.
    public func persistentVolume(named name: String) -> PersistentVolume? { volumes[name]?.source }

    /// The PersistentVolumeClaim `namespace/name`, if present.
    public func persistentVolumeClaim(namespace: String, name: String) -> PersistentVolumeClaim? {
        let ns = strings.lookup(namespace)
        guard ns >= 0 else { return nil }
        return claims[ObjectKey(namespace: ns, name: name)]
    }

    /// Adds or replaces a PersistentVolume.
    public mutating func upsert(persistentVolume volume: PersistentVolume) {
        volumes[volume.name] = VolumeRecord(
            source: volume, terms: volume.nodeAffinity.map { CompiledNodeTerm($0, table: &strings) })
    }

    /// Removes PersistentVolume `name`.
    public mutating func remove(persistentVolume name: String) { volumes[name] = nil }

    /// Adds or replaces a PersistentVolumeClaim.
    public mutating func upsert(persistentVolumeClaim claim: PersistentVolumeClaim) {
        claims[ObjectKey(namespace: strings.intern(claim.namespace), name: claim.name)] = claim
    }

    /// Removes PersistentVolumeClaim `namespace/name`.
    public mutating func remove(namespace: String, persistentVolumeClaim name: String) {
        let ns = strings.lookup(namespace)
        guard ns >= 0 else { return }
        claims[ObjectKey(namespace: ns, name: name)] = nil
    }

    /// The volumes with node affinity that pod `slot` uses through bound claims, with the claim's name.
    /// Claims or volumes missing from the state restrict nothing.
    func constrainingVolumes(of slot: Int32) -> [(claim: String, volume: VolumeRecord)] {
        guard let extras = podExtras[slot], !extras.claims.isEmpty else { return [] }
        let ns = pods[Int(slot)].namespace
        var out: [(claim: String, volume: VolumeRecord)] = []
        for c in extras.claims {
            guard let name = claims[ObjectKey(namespace: ns, name: c)]?.volumeName, let v = volumes[name],
                !v.terms.isEmpty
            else { continue }
            out.append((c, v))
        }
        return out
    }

    // MARK: Indexes

    mutating func indexLabels(ofNode id: Int32) {
        for pair in nodes[Int(id)].labels.pairs {
            let (k, v) = LabelSet.split(pair)
            nodesByLabel[k, default: [:]][v, default: []].insert(id)
        }
    }

    mutating func unindexLabels(ofNode id: Int32) {
        guard nodes[Int(id)].present else { return }
        for pair in nodes[Int(id)].labels.pairs {
            let (k, v) = LabelSet.split(pair)
            nodesByLabel[k]?[v]?.remove(id)
            if nodesByLabel[k]?[v]?.isEmpty == true { nodesByLabel[k]?[v] = nil }
            if nodesByLabel[k]?.isEmpty == true { nodesByLabel[k] = nil }
        }
    }

    /// Compiles what a pod adds to its profile: extended resources, host ports, pod (anti-)affinity,
    /// spread constraints and claims. Terms and constraints are interned: replicas share them.
    mutating func compileExtras(_ pod: Pod, namespace ns: Int32) -> PodExtras {
        var x = PodExtras()
        x.extended = pod.extendedRequests.filter { $0.value != 0 }.sorted { $0.key < $1.key }
            .map { ExtendedAmount(name: strings.intern($0.key), amount: $0.value) }
        x.hostPorts = pod.hostPorts
        x.affinity = pod.podAffinity.map { termID($0, owner: pod.namespace, anti: false) }
        x.antiAffinity = pod.podAntiAffinity.map { termID($0, owner: pod.namespace, anti: true) }
        x.spread = pod.topologySpread.map { spreadID($0) }
        x.claims = pod.claims
        return x
    }

    private mutating func termID(_ term: PodAffinityTerm, owner: String, anti: Bool) -> Int32 {
        var resolved = term
        if resolved.namespaces.isEmpty && resolved.namespaceSelector == nil { resolved.namespaces = [owner] }
        resolved.namespaces = Array(Set(resolved.namespaces)).sorted()
        let id: Int32
        if let known = podTermIDs[resolved] {
            id = known
        } else {
            id = Int32(podTerms.count)
            podTerms.append(CompiledPodTerm(resolved, table: &strings))
            podTermIDs[resolved] = id
        }
        if anti && antiAffinityHolders[id] == nil {
            // First use as an anti-affinity term: index it by the namespaces whose pods it repels.
            antiAffinityHolders[id] = []
            let t = podTerms[Int(id)]
            if t.namespaceSelector != nil { antiTermsAnyNamespace.append(id) }
            for n in t.namespaces { antiTermsByNamespace[n, default: []].append(id) }
        }
        return id
    }

    private mutating func spreadID(_ c: TopologySpreadConstraint) -> Int32 {
        if let id = spreadIDs[c] { return id }
        let id = Int32(spreads.count)
        spreads.append(CompiledSpread(c, table: &strings))
        spreadIDs[c] = id
        return id
    }

    /// Calls `body` with every pod of namespace `ns` matching `selector`, using the label index on the
    /// selector's narrowest `In` requirement (the whole namespace when it has none).
    func forEachPod(in ns: Int32, matching selector: CompiledSelector, _ body: (Int32) -> Void) {
        var best: Set<Int32>?
        for r in selector.requirements where r.op == .in {
            var union = Set<Int32>()
            for v in r.values {
                let pair = UInt64(UInt32(bitPattern: r.key)) << 32 | UInt64(UInt32(bitPattern: v))
                if let s = podsByLabel[NamespacedLabel(namespace: ns, pair: pair)] { union.formUnion(s) }
            }
            if best == nil || union.count < best!.count { best = union }
            if best!.isEmpty { return }
        }
        for slot in best ?? podsByNamespace[ns] ?? [] where selector.matches(pods[Int(slot)].labels, strings) {
            body(slot)
        }
    }

    /// The present nodes (not `except`) that satisfy one of `terms`, stopping at the first one found
    /// when `first` is true. Uses the node label index on a term's `In` requirement when it has one.
    func nodes(satisfying terms: [CompiledNodeTerm], except: Int32, first: Bool) -> [Int32] {
        var found: [Int32] = []
        for term in terms {
            var candidates: [Int32]?
            if let r = term.expressions.requirements.first(where: { $0.op == .in }) {
                candidates = r.values.flatMap { Array(nodesByLabel[r.key]?[$0] ?? []) }
            } else if let f = term.fields.first(where: { $0.key == "metadata.name" && $0.operator == .in }) {
                candidates = f.values.compactMap { nodeIDs[$0] }
            }
            for id in candidates ?? Array(0..<Int32(nodes.count)) {
                let n = nodes[Int(id)]
                guard id != except, n.present, term.matches(n, strings), !found.contains(id) else { continue }
                found.append(id)
                if first { return found }
            }
        }
        return found
    }
}

extension LabelSet {
    /// The key and value ids of a pair.
    @inline(__always)
    static func split(_ pair: UInt64) -> (Int32, Int32) {
        (Int32(bitPattern: UInt32(truncatingIfNeeded: pair >> 32)), Int32(bitPattern: UInt32(truncatingIfNeeded: pair)))
    }
}
