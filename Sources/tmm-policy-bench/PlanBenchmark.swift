import Foundation
import TMMPolicy

/// `plan` over the whole generated cluster (5,000 nodes, 150,000 pods, 3,000 budgets): the time of
/// `RolloutPlan.make` and of rendering it, with the default policy (waves of one) and with waves of
/// three. Target: under 10 s. Wall clock and the thread's CPU time (`threadCPU`, main.swift): on a
/// machine shared with other work the two differ by the time spent waiting for a core.
func planBenchmark(state: ClusterState) {
    let clock = ContinuousClock()
    for yaml in ["maxNodesInMaintenance: 1", "maxNodesInMaintenance: 3"] {
        let engine = PolicyEngine(config: try! PolicyConfig.load(yaml: yaml))
        var plan: RolloutPlan?
        let cpuBefore = threadCPU()
        let made = clock.measure { plan = RolloutPlan.make(state: state, engine: engine) }
        let cpu = (threadCPU() - cpuBefore) / 1e6
        var bytes = 0
        let rendered = clock.measure { bytes = plan!.text.utf8.count + plan!.json.utf8.count }
        let planned = plan!.waves.reduce(0) { $0 + $1.nodes.count }
        print(
            String(
                format: "plan (%@): %.2f s wall (%.2f s thread CPU) to plan %d node(s) in %d wave(s), %d never pass; %.0f ms to render text and JSON (%d KB)",
                yaml, Double(made.components.seconds) + Double(made.components.attoseconds) / 1e18, cpu, planned, plan!.waves.count,
                plan!.blocked.count, Double(rendered.components.seconds) * 1000 + Double(rendered.components.attoseconds) / 1e15,
                bytes / 1024))
    }
}
