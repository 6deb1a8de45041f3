extension PolicyEngine {
    /// Rule 6: first fit decreasing of the pods `scope` onto the nodes that can take them.
    ///
    /// Nodes are tried in id order and most pods fit in one of the first few, so a decision does not
    /// visit every node; only a pod that fits nowhere costs a full scan.
    func place(_ scope: [Int32], target: Int32, state: ClusterState, inMaintenance: Set<Int32>) -> [Placement] {
        func candidate(_ i: Int) -> Bool {
            let n = state.nodes[i]
            return n.present && i != Int(target) && n.ready && !n.unschedulable && !inMaintenance.contains(Int32(i))
        }
        // Largest first: cpu, then memory, then name for a stable order.
        let order = scope.sorted { a, b in
            let ra = state.pods[Int(a)].requests
            let rb = state.pods[Int(b)].requests
            if ra.cpuMillis != rb.cpuMillis { return ra.cpuMillis > rb.cpuMillis }
            if ra.memoryBytes != rb.memoryBytes { return ra.memoryBytes > rb.memoryBytes }
            return state.podRef(a) < state.podRef(b)
        }
        // Requests placed by this decision, per node; and profile-admits-node answers, computed once.
        var placed: [Int32: Resources] = [:]
        var admits: [Int64: Bool] = [:]
        func admitted(_ profile: Int32, _ node: Int) -> Bool {
            let key = Int64(profile) << 32 | Int64(node)
            if let known = admits[key] { return known }
            let answer = state.profiles[Int(profile)].admits(state.nodes[node], state.strings)
            admits[key] = answer
            return answer
        }
        func free(_ i: Int) -> Resources {
            let n = state.nodes[i]
            return n.allocatable - n.used - (placed[Int32(i)] ?? .zero)
        }
        var placements: [Placement] = []
        for slot in order {
            let pod = state.pods[Int(slot)]
            let need = pod.requests
            var chosen: Int?
            for i in state.nodes.indices where candidate(i) && free(i).covers(need) && admitted(pod.profile, i) {
                chosen = i
                break
            }
            if let chosen {
                placed[Int32(chosen), default: .zero] = (placed[Int32(chosen)] ?? .zero) + need
                placements.append(
                    Placement(pod: state.podRef(slot), requests: need, node: state.nodes[chosen].name, lacking: nil))
            } else {
                let all = state.nodes.indices.filter(candidate)
                let eligible = all.filter { admitted(pod.profile, $0) }
                placements.append(
                    Placement(
                        pod: state.podRef(slot), requests: need, node: nil,
                        lacking: lacking(need, eligible: eligible.map(free), candidates: all.count)))
            }
        }
        return placements
    }

    func lacking(_ need: Resources, eligible: [Resources], candidates: Int) -> String {
        if candidates == 0 { return "no other node is Ready, schedulable and out of maintenance" }
        if eligible.isEmpty {
            return "no other node matches its tolerations, nodeSelector and node affinity (\(candidates) candidate(s))"
        }
        var best = Resources(cpuMillis: .min, memoryBytes: .min, pods: .min)
        for f in eligible {
            best = Resources(
                cpuMillis: max(best.cpuMillis, f.cpuMillis), memoryBytes: max(best.memoryBytes, f.memoryBytes),
                pods: max(best.pods, f.pods))
        }
        var short: [String] = []
        if best.cpuMillis < need.cpuMillis {
            short.append("cpu \(Resources.formatCPU(need.cpuMillis)), at most \(Resources.formatCPU(max(0, best.cpuMillis))) free")
        }
        if best.memoryBytes < need.memoryBytes {
            short.append(
                "memory \(Resources.formatMemory(need.memoryBytes)), at most \(Resources.formatMemory(max(0, best.memoryBytes))) free")
        }
        if best.pods < need.pods { short.append("a pod slot, none free") }
        if short.isEmpty {
            return "needs cpu \(Resources.formatCPU(need.cpuMillis)) and memory \(Resources.formatMemory(need.memoryBytes)) "
                + "together; no eligible node has both free"
        }
        return "needs " + short.joined(separator: "; ") + " on \(eligible.count) eligible node(s)"
    }
}
