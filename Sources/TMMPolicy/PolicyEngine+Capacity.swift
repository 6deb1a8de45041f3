extension PolicyEngine {
    /// Rule 6: first fit decreasing of the pods `scope` onto the nodes that can take them.
    func place(
        _ scope: [Int32], target: Int32, state: ClusterState, inMaintenance: [Bool]
    ) -> [Placement] {
        var candidates: [Int32] = []
        var free = [Resources](repeating: .zero, count: state.nodes.count)
        for i in 0..<state.nodes.count {
            let n = state.nodes[i]
            guard n.present, i != Int(target), n.ready, !n.unschedulable, !inMaintenance[i] else { continue }
            candidates.append(Int32(i))
            free[i] = n.allocatable - n.used
        }
        // Largest first: cpu, then memory, then name for a stable order.
        let order = scope.sorted { a, b in
            let ra = state.pods[Int(a)].requests
            let rb = state.pods[Int(b)].requests
            if ra.cpuMillis != rb.cpuMillis { return ra.cpuMillis > rb.cpuMillis }
            if ra.memoryBytes != rb.memoryBytes { return ra.memoryBytes > rb.memoryBytes }
            return state.podRef(a) < state.podRef(b)
        }
        // Whether a profile admits a candidate: 0 unknown, 1 yes, 2 no; computed once per pair.
        var admits: [Int32: [UInt8]] = [:]
        var placements: [Placement] = []
        for slot in order {
            let pod = state.pods[Int(slot)]
            let need = pod.requests
            var chosen: Int32?
            var table = admits[pod.profile] ?? [UInt8](repeating: 0, count: candidates.count)
            for (k, c) in candidates.enumerated() where free[Int(c)].covers(need) {
                if table[k] == 0 {
                    table[k] = state.profiles[Int(pod.profile)].admits(state.nodes[Int(c)], state.strings) ? 1 : 2
                }
                if table[k] == 1 {
                    chosen = c
                    break
                }
            }
            if let chosen {
                free[Int(chosen)] = free[Int(chosen)] - need
                placements.append(
                    Placement(pod: state.podRef(slot), requests: need, node: state.nodes[Int(chosen)].name, lacking: nil))
            } else {
                // Finish the eligibility table to say what is missing.
                var eligible: [Int32] = []
                for (k, c) in candidates.enumerated() {
                    if table[k] == 0 {
                        table[k] = state.profiles[Int(pod.profile)].admits(state.nodes[Int(c)], state.strings) ? 1 : 2
                    }
                    if table[k] == 1 { eligible.append(c) }
                }
                placements.append(
                    Placement(
                        pod: state.podRef(slot), requests: need, node: nil,
                        lacking: lacking(need, eligible: eligible, free: free, candidates: candidates.count)))
            }
            admits[pod.profile] = table
        }
        return placements
    }

    func lacking(_ need: Resources, eligible: [Int32], free: [Resources], candidates: Int) -> String {
        if candidates == 0 { return "no other node is Ready, schedulable and out of maintenance" }
        if eligible.isEmpty {
            return "no node it tolerates and selects among \(candidates) candidate(s)"
        }
        var best = Resources(cpuMillis: .min, memoryBytes: .min, pods: .min)
        for c in eligible {
            let f = free[Int(c)]
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
