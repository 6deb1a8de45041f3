/// Decides whether a node may enter maintenance. Pure: everything comes from ``DecisionInput``.
public struct PolicyEngine: Sendable {
    /// The policy applied.
    public var config: PolicyConfig

    /// Creates an engine for a policy.
    public init(config: PolicyConfig = .default) { self.config = config }

    /// Applies the rules in the issue's order. `mode` does not change the verdict.
    public func decide(_ input: DecisionInput) -> Verdict {
        let level: MaintenanceLevel
        switch input.transition {
        case .enter(let l), .escalate(let l): level = l
        case .exit, .none:
            return Verdict(allowed: true, reason: nil, message: "Allowed: not a maintenance entry")
        }
        let state: ClusterState
        switch input.state {
        case .unknown(let why):
            return unknownState("the cluster state is unknown (\(why))", node: input.node, pods: [])
        case .known(let s):
            state = s
        }
        guard let id = state.nodeIDs[input.node], state.nodes[Int(id)].present else {
            return unknownState(
                "node \(input.node) is not in the cluster state", node: input.node, pods: state.pods(onNode: input.node))
        }
        if let current = MaintenanceLevel.of(state.nodes[Int(id)].taints, taintKeys: config.taintKeys), current >= level {
            return Verdict(
                allowed: true, reason: nil,
                message: "Allowed: node \(input.node) is already in maintenance (\(current.rawValue))")
        }
        return evaluate(target: id, state: state, pending: input.pendingEntries, level: level).verdict
    }

    /// The verdict for an exit: allowed, with the pods of the node that carry the annotation to clear.
    public func exitVerdict(node: String, state: ClusterState) -> Verdict {
        let pods = podsToClear(onNode: node, state: state)
        return Verdict(
            allowed: true, reason: nil, message: "Allowed: node \(node) leaves maintenance; \(pods.count) pod(s) to clear",
            relatedPods: pods)
    }

    /// The pods bound to `node` that carry ``PolicyConfig/annotationKey``.
    public func podsToClear(onNode node: String, state: ClusterState) -> [PodRef] {
        guard let id = state.nodeIDs[node] else { return [] }
        return state.nodes[Int(id)].pods.filter { state.annotations[$0]?[config.annotationKey] != nil }
            .map(state.podRef).sorted()
    }

    func unknownState(_ why: String, node: String, pods: [PodRef]) -> Verdict {
        if config.failClosed {
            return Verdict(
                allowed: false, reason: .genericFailure, message: "GenericFailure: \(why); failClosed is on",
                relatedPods: pods)
        }
        return Verdict(
            allowed: true, reason: nil, message: "Allowed: \(why), and failClosed is off",
            warnings: ["\(why); allowed because failClosed is false"], relatedPods: [])
    }

    /// The outcome of the rules 3 to 7, with the placement used by the rollout planner.
    struct Evaluation {
        var verdict: Verdict
        /// The in-scope pod slots of the node.
        var scope: [Int32]
        /// The in-scope pods that leave the node (those waiting for it at `planned-downtime` stay).
        var movers: [Int32]
    }

    /// Rules 3 to 7 for node `target` at `level`, with `pending` nodes counted as in maintenance.
    /// `carried` pods (those of pending nodes, for the rollout planner) must find room too.
    func evaluate(
        target: Int32, state: ClusterState, pending: Set<String>, carried: [Int32] = [],
        level: MaintenanceLevel = .plannedDowntime
    ) -> Evaluation {
        let t = Int(target)
        let targetName = state.nodes[t].name
        var findings = Findings()
        findings.maxNodesInMaintenance = config.maxNodesInMaintenance
        var warnings: [String] = []
        var failures: [(FailureReason, String, [PodRef]?)] = []

        // Which nodes are in maintenance, and which are down: small sets kept by the state, so a
        // decision does not visit every node.
        var inMaintenance = Set<Int32>()
        for id in state.maintenanceCandidates
        where MaintenanceLevel.of(state.nodes[Int(id)].taints, taintKeys: config.taintKeys) != nil {
            inMaintenance.insert(id)
        }
        var others: [String] = []
        for name in pending where name != targetName {
            if let id = state.nodeIDs[name], state.nodes[Int(id)].present {
                inMaintenance.insert(id)
            } else {
                others.append(name)
                warnings.append("pending entry \(name) is not in the cluster state")
            }
        }
        for id in inMaintenance where id != target { others.append(state.nodes[Int(id)].name) }
        let downSet = inMaintenance.union(state.unhealthyNodes)
        func isDown(_ id: Int32) -> Bool { !state.nodes[Int(id)].present || downSet.contains(id) }
        others.sort()
        findings.nodesInMaintenance = others

        // Rule 3: concurrency. The first rule, so its refusal can be confirmed at the source alone.
        var confirmation: RefusalConfirmation?
        if others.count + 1 > config.maxNodesInMaintenance {
            confirmation = RefusalConfirmation(target: targetName, level: level, nodes: others, atLeast: config.maxNodesInMaintenance)
            failures.append(
                (.tooManyExistingFailures,
                    "\(others.count) other node(s) already in maintenance (\(PolicyEngine.list(others))), "
                        + "maxNodesInMaintenance is \(config.maxNodesInMaintenance)", nil))
        }

        // Rule 4: failure domains.
        if !config.failureDomainLabel.isEmpty {
            let key = state.strings.lookup(config.failureDomainLabel)
            func domain(_ i: Int) -> String { state.nodes[i].labels.value(key).map { state.strings[$0] } ?? "" }
            let mine = domain(t)
            var conflicts: [String: String] = [:]
            for id in downSet where id != target && domain(Int(id)) != mine {
                conflicts[state.nodes[Int(id)].name] = domain(Int(id))
            }
            findings.failureDomain = DomainFinding(label: config.failureDomainLabel, domain: mine, conflicts: conflicts)
            if !conflicts.isEmpty {
                let names = conflicts.keys.sorted().map { "\($0) in \(conflicts[$0]!.isEmpty ? "no domain" : conflicts[$0]!)" }
                failures.append(
                    (.tooManyExistingFailures,
                        "another failure domain is already degraded (\(PolicyEngine.list(names))); "
                            + "\(targetName) is in \(mine.isEmpty ? "no domain" : mine)", nil))
            }
        }

        // Pods in scope.
        let selector = CompiledSelector(lookup: config.podSelector, table: state.strings)
        var scope: [Int32] = []
        for slot in state.nodes[t].pods {
            let i = Int(slot)
            if state.pods[i].isTerminal || state.pods[i].daemonSetOwned || state.pods[i].mirror
                || !selector.matches(state.pods[i].labels, state.strings)
            {
                findings.podsOutOfScope += 1
            } else {
                scope.append(slot)
            }
        }
        scope.sort { state.podRef($0) < state.podRef($1) }
        findings.podsInScope = scope.map(state.podRef)

        // Rule 5: quorum.
        if config.checks.quorum {
            findings.quorumChecked = true
            var seen = Set<Int32>()
            var budgetIDs: [Int32] = []
            for slot in scope {
                for b in state.budgetsByNamespace[state.pods[Int(slot)].namespace] ?? []
                where state.budgets[Int(b)].pods.contains(slot) && seen.insert(b).inserted {
                    budgetIDs.append(b)
                }
            }
            var failing: [String] = []
            var covered = Set<PodRef>()
            for b in budgetIDs {
                let budget = state.budgets[Int(b)]
                var expected = 0
                var healthy = 0
                for slot in budget.pods {
                    // Fields one by one: binding the record would retain its name and labels.
                    let i = Int(slot)
                    if state.pods[i].isTerminal { continue }
                    expected += 1
                    let node = state.pods[i].node
                    if state.pods[i].ready, node >= 0, node != target, !isDown(node) { healthy += 1 }
                }
                let required: Int
                if let r = budget.source.required(expected: expected) {
                    required = r
                } else {
                    required = expected
                    warnings.append("budget \(budget.source.namespace)/\(budget.source.name) has an invalid bound")
                }
                if budget.source.minAvailable == nil && budget.source.maxUnavailable == nil {
                    warnings.append("budget \(budget.source.namespace)/\(budget.source.name) sets neither minAvailable nor maxUnavailable")
                }
                let onNode = scope.filter { budget.pods.contains($0) }.map(state.podRef)
                let finding = BudgetFinding(
                    namespace: budget.source.namespace, name: budget.source.name, expected: expected, healthy: healthy,
                    required: required, rule: PolicyEngine.rule(budget.source), podsOnNode: onNode)
                findings.budgets.append(finding)
                if !finding.satisfied {
                    failing.append(
                        "budget \(finding.namespace)/\(finding.name) would have \(healthy) healthy of \(required) required")
                    covered.formUnion(onNode)
                }
            }
            findings.budgets.sort { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
            if !failing.isEmpty {
                failures.append((.tooManyExistingFailures, failing.joined(separator: "; "), covered.sorted()))
            }
        }

        // Rule 6: capacity.
        if config.checks.capacity {
            findings.capacityChecked = true
            findings.placements = place(
                scope + carried, target: target, state: state, inMaintenance: inMaintenance, level: level,
                carried: Set(carried))
            let unplaced = findings.placements.filter(\.stranded)
            if !unplaced.isEmpty {
                var text = unplaced.prefix(10).map { "\($0.pod): \($0.lacking ?? "no room")" }
                if unplaced.count > 10 { text.append("and \(unplaced.count - 10) more") }
                failures.append(
                    (.notEnoughResources, "\(unplaced.count) pod(s) fit on no other node: \(text.joined(separator: " | "))",
                        unplaced.map(\.pod)))
            }
        }
        let waiting = Set(findings.placements.filter { $0.waitsFor != nil }.map(\.pod))
        let movers = waiting.isEmpty ? scope : scope.filter { !waiting.contains(state.podRef($0)) }

        guard let first = failures.first else {
            var parts = ["\(scope.count) pod(s) in scope"]
            if findings.quorumChecked { parts.append("\(findings.budgets.count) budget(s) keep quorum") }
            if findings.capacityChecked {
                parts.append(
                    waiting.isEmpty
                        ? "all pods fit on other nodes"
                        : "\(waiting.count) pod(s) wait for the node's local volumes, the others fit on other nodes")
            }
            let verdict = Verdict(
                allowed: true, reason: nil,
                message: "Allowed: node \(targetName) may enter maintenance: " + parts.joined(separator: ", "),
                warnings: warnings, relatedPods: findings.podsInScope, findings: findings)
            return Evaluation(verdict: verdict, scope: scope, movers: movers)
        }
        let message =
            "\(first.0.rawValue): node \(targetName) may not enter maintenance: "
            + failures.map(\.1).joined(separator: "; ")
        let verdict = Verdict(
            allowed: false, reason: first.0, message: message, warnings: warnings,
            relatedPods: first.2 ?? findings.podsInScope, findings: findings, confirmation: confirmation)
        return Evaluation(verdict: verdict, scope: scope, movers: movers)
    }

    /// Taints the node lifecycle controller sets on a node it cannot trust.
    static let unhealthyTaintKeys: Set<String> = ["node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready"]

    static func list(_ names: [String]) -> String {
        names.count <= 5 ? names.joined(separator: ", ") : names.prefix(5).joined(separator: ", ") + ", …"
    }

    static func rule(_ b: DisruptionBudget) -> String {
        if let m = b.maxUnavailable { return "maxUnavailable \(m)" }
        if let m = b.minAvailable { return "minAvailable \(m)" }
        return "no bound"
    }
}
