import TMMJSON

/// A safe order for taking every node through maintenance, in waves of at most
/// ``PolicyConfig/maxNodesInMaintenance`` nodes.
///
/// Each wave passes every rule with the earlier waves back in service: nodes of a wave are checked
/// one after the other, each with the previous ones as pending entries and the pods of all of them
/// placed together (first fit decreasing) on the remaining nodes, so the wave as a whole keeps every
/// budget and fits. Nodes in
/// maintenance now are assumed back in service. With a failure-domain label, a wave holds one domain.
public struct RolloutPlan: Sendable {
    /// One wave.
    public struct Wave: Sendable, Equatable {
        /// The nodes of the wave, sorted.
        public var nodes: [String]
        /// The failure domain of the wave, when a label is configured.
        public var domain: String?
    }

    /// A node that cannot pass even with every other node in service.
    public struct Blocked: Sendable, Equatable {
        /// The node.
        public var node: String
        /// The reason of its solo verdict.
        public var reason: FailureReason
        /// The message of its solo verdict.
        public var message: String
    }

    /// The waves, in order.
    public var waves: [Wave]
    /// Nodes that never pass, by name.
    public var blocked: [Blocked]
    /// The wave size limit used.
    public var maxNodesInMaintenance: Int
    /// Assumptions worth telling the operator (nodes assumed back from maintenance, …).
    public var notes: [String]

    /// Plans every node present in `state`, each entering at `level`.
    public static func make(state: ClusterState, engine: PolicyEngine, level: MaintenanceLevel = .plannedDowntime) -> RolloutPlan {
        let config = engine.config
        var base = state
        var notes: [String] = []
        let wasInMaintenance = base.clearMaintenance(taintKeys: config.taintKeys)
        if !wasInMaintenance.isEmpty {
            notes.append("assumes \(wasInMaintenance.joined(separator: ", ")) back in service first")
        }
        notes.append("assumes evicted pods return to their node after each wave (the state's placement)")

        let domainKey = config.failureDomainLabel.isEmpty ? Int32(-1) : base.strings.lookup(config.failureDomainLabel)
        func domain(_ id: Int32) -> String? {
            if config.failureDomainLabel.isEmpty { return nil }
            return base.nodes[Int(id)].labels.value(domainKey).map { base.strings[$0] } ?? ""
        }

        var blocked: [Blocked] = []
        var passing: [(id: Int32, weight: Int)] = []
        // A wave's first member is evaluated exactly as alone (nothing pending, nothing carried): keep the
        // solo movers so that evaluation is not made twice (it halves plan's time with waves of one).
        var soloMovers: [Int32: [Int32]] = [:]
        for name in base.nodeNames {
            let id = base.nodeIDs[name]!
            let evaluation = engine.evaluate(target: id, state: base, pending: [], level: level)
            let solo = evaluation.verdict
            if solo.allowed {
                soloMovers[id] = evaluation.movers
                // Harder nodes first: tight budgets, then many pods, so they get the emptiest waves.
                let slack = solo.findings.budgets.map { $0.healthy - $0.required }.min() ?? Int.max
                passing.append((id, slack == Int.max ? -solo.findings.podsInScope.count : -1_000_000 + slack))
            } else {
                blocked.append(Blocked(node: name, reason: solo.reason ?? .genericFailure, message: solo.message))
            }
        }
        passing.sort { a, b in
            let da = domain(a.id) ?? ""
            let db = domain(b.id) ?? ""
            if da != db { return da < db }
            if a.weight != b.weight { return a.weight < b.weight }
            return base.nodes[Int(a.id)].name < base.nodes[Int(b.id)].name
        }

        var remaining = passing.map(\.id)
        var waves: [Wave] = []
        while !remaining.isEmpty {
            var members: [Int32] = []
            var pending = Set<String>()
            var carried: [Int32] = []
            var waveDomain: String?
            for id in remaining {
                if members.count == config.maxNodesInMaintenance { break }
                if let d = waveDomain, domain(id) != d { continue }
                let movers: [Int32]
                if members.isEmpty, let solo = soloMovers[id] {
                    movers = solo  // passed alone, and alone is what it is as the first member
                } else {
                    // The pods of the wave's earlier members must be placed again with this one's.
                    let e = engine.evaluate(target: id, state: base, pending: pending, carried: carried, level: level)
                    guard e.verdict.allowed else { continue }
                    movers = e.movers
                }
                members.append(id)
                pending.insert(base.nodes[Int(id)].name)
                carried += movers
                if waveDomain == nil { waveDomain = domain(id) }
            }
            if members.isEmpty {
                // Cannot happen (the first remaining node passes alone), but never loop forever.
                for id in remaining {
                    blocked.append(
                        Blocked(node: base.nodes[Int(id)].name, reason: .genericFailure, message: "GenericFailure: no wave"))
                }
                break
            }
            let set = Set(members)
            remaining.removeAll { set.contains($0) }
            waves.append(Wave(nodes: members.map { base.nodes[Int($0)].name }.sorted(), domain: waveDomain))
        }
        return RolloutPlan(
            waves: waves, blocked: blocked.sorted { $0.node < $1.node },
            maxNodesInMaintenance: config.maxNodesInMaintenance, notes: notes)
    }

    /// Human-readable plan.
    public var text: String {
        let planned = waves.reduce(0) { $0 + $1.nodes.count }
        var out = [
            "Rollout plan: \(planned) node(s) in \(waves.count) wave(s), at most \(maxNodesInMaintenance) at a time"
        ]
        for (i, wave) in waves.enumerated() {
            let d = wave.domain.map { "  [\($0.isEmpty ? "no domain" : $0)]" } ?? ""
            out.append("wave \(i + 1): \(wave.nodes.joined(separator: ", "))\(d)")
        }
        if !blocked.isEmpty {
            out.append("never pass (\(blocked.count)):")
            for b in blocked { out.append("  \(b.node): \(b.message)") }
        }
        for n in notes { out.append("note: \(n)") }
        return out.joined(separator: "\n") + "\n"
    }

    /// Machine-readable plan.
    public var json: String {
        var w = JSONWriter()
        w.beginObject()
        w.key("maxNodesInMaintenance"); w.value(maxNodesInMaintenance)
        w.key("waves"); w.beginArray()
        for wave in waves {
            w.beginObject()
            w.key("nodes"); w.beginArray(); for n in wave.nodes { w.value(n) }; w.endArray()
            if let d = wave.domain { w.key("domain"); w.value(d) }
            w.endObject()
        }
        w.endArray()
        w.key("blocked"); w.beginArray()
        for b in blocked {
            w.beginObject()
            w.key("node"); w.value(b.node)
            w.key("reason"); w.value(b.reason.rawValue)
            w.key("message"); w.value(b.message)
            w.endObject()
        }
        w.endArray()
        w.key("notes"); w.beginArray(); for n in notes { w.value(n) }; w.endArray()
        w.endObject()
        return w.string
    }
}
