import TMMJSON

/// The answer of `tmm-webhook check NODE`: would the node be allowed to enter maintenance now, and why.
public struct CheckReport: Sendable {
    /// The node checked.
    public var node: String
    /// The engine's verdict, with its findings.
    public var verdict: Verdict

    /// Creates a report from a verdict.
    public init(node: String, verdict: Verdict) {
        self.node = node
        self.verdict = verdict
    }

    /// Decides an entry of `node` at `level` against `state`.
    public static func make(
        node: String, state: ClusterState, engine: PolicyEngine, pendingEntries: Set<String> = [],
        level: MaintenanceLevel = .plannedDowntime
    ) -> CheckReport {
        let input = DecisionInput(
            node: node, transition: .enter(level), state: .known(state), pendingEntries: pendingEntries)
        return CheckReport(node: node, verdict: engine.decide(input))
    }

    /// 0 allowed, 1 denied (2, errors, is the caller's).
    public var exitCode: Int32 { verdict.allowed ? 0 : 1 }

    /// Human-readable report.
    public var text: String {
        let f = verdict.findings
        var out = [verdict.allowed ? "ALLOWED \(node)" : "DENIED \(node) (\(verdict.reason?.rawValue ?? ""))"]
        out.append(verdict.message)
        for w in verdict.warnings { out.append("warning: \(w)") }
        if verdict.message.hasPrefix("Allowed: node \(node) is already") || verdict.reason == .genericFailure {
            return out.joined(separator: "\n") + "\n"
        }
        out.append("")
        let others = f.nodesInMaintenance.isEmpty ? "no other node" : f.nodesInMaintenance.joined(separator: ", ")
        out.append("in maintenance or entering: \(others) (maxNodesInMaintenance \(f.maxNodesInMaintenance))")
        if let d = f.failureDomain {
            let conflicts = d.conflicts.keys.sorted().map { "\($0) (\(d.conflicts[$0]!))" }
            out.append(
                "failure domain \(d.label)=\(d.domain.isEmpty ? "<none>" : d.domain): "
                    + (conflicts.isEmpty ? "no other domain degraded" : "degraded elsewhere: " + conflicts.joined(separator: ", ")))
        }
        out.append("pods in scope: \(f.podsInScope.count) (out of scope: \(f.podsOutOfScope))")
        if f.quorumChecked {
            out.append("budgets:")
            if f.budgets.isEmpty { out.append("  (none covers a pod of this node)") }
            for b in f.budgets {
                out.append(
                    "  \(b.satisfied ? "ok  " : "FAIL") \(b.namespace)/\(b.name): healthy \(b.healthy) / required "
                        + "\(b.required) (expected \(b.expected), \(b.rule)); on this node: "
                        + b.podsOnNode.map(\.description).joined(separator: ", "))
            }
        }
        if f.capacityChecked {
            out.append("placement:")
            if f.placements.isEmpty { out.append("  (no pod to move)") }
            for p in f.placements {
                let req = "cpu \(Resources.formatCPU(p.requests.cpuMillis)), memory \(Resources.formatMemory(p.requests.memoryBytes))"
                let to = p.node ?? p.waitsFor.map { "stays, waits for the node (\($0))" } ?? "NOWHERE: \(p.lacking ?? "")"
                out.append("  \(p.pod) [\(req)] -> \(to)")
            }
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// Machine-readable report.
    public var json: String {
        var w = JSONWriter()
        writeJSON(&w)
        return w.string
    }

    func writeJSON(_ w: inout JSONWriter) {
        let f = verdict.findings
        w.beginObject()
        w.key("node"); w.value(node)
        w.key("allowed"); w.value(verdict.allowed)
        w.key("reason")
        if let r = verdict.reason { w.value(r.rawValue) } else { w.null() }
        w.key("message"); w.value(verdict.message)
        w.key("warnings"); w.beginArray(); for x in verdict.warnings { w.value(x) }; w.endArray()
        w.key("relatedPods"); w.beginArray(); for p in verdict.relatedPods { w.value(p.description) }; w.endArray()
        w.key("nodesInMaintenance"); w.beginArray(); for n in f.nodesInMaintenance { w.value(n) }; w.endArray()
        w.key("maxNodesInMaintenance"); w.value(f.maxNodesInMaintenance)
        if let d = f.failureDomain {
            w.key("failureDomain"); w.beginObject()
            w.key("label"); w.value(d.label)
            w.key("domain"); w.value(d.domain)
            w.key("conflicts"); w.beginObject()
            for k in d.conflicts.keys.sorted() { w.key(k); w.value(d.conflicts[k]!) }
            w.endObject(); w.endObject()
        }
        w.key("podsInScope"); w.beginArray(); for p in f.podsInScope { w.value(p.description) }; w.endArray()
        w.key("podsOutOfScope"); w.value(f.podsOutOfScope)
        if f.quorumChecked {
            w.key("budgets"); w.beginArray()
            for b in f.budgets {
                w.beginObject()
                w.key("namespace"); w.value(b.namespace)
                w.key("name"); w.value(b.name)
                w.key("rule"); w.value(b.rule)
                w.key("expected"); w.value(b.expected)
                w.key("healthy"); w.value(b.healthy)
                w.key("required"); w.value(b.required)
                w.key("satisfied"); w.value(b.satisfied)
                w.key("podsOnNode"); w.beginArray(); for p in b.podsOnNode { w.value(p.description) }; w.endArray()
                w.endObject()
            }
            w.endArray()
        }
        if f.capacityChecked {
            w.key("placements"); w.beginArray()
            for p in f.placements {
                w.beginObject()
                w.key("pod"); w.value(p.pod.description)
                w.key("cpuMillis"); w.value(Int(p.requests.cpuMillis))
                w.key("memoryBytes"); w.value(Int(p.requests.memoryBytes))
                w.key("node"); if let n = p.node { w.value(n) } else { w.null() }
                if let l = p.lacking { w.key("lacking"); w.value(l) }
                if let v = p.waitsFor { w.key("waitsFor"); w.value(v) }
                w.endObject()
            }
            w.endArray()
        }
        w.endObject()
    }
}
