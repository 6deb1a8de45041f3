import TMMJSON
import TMMPolicy
import Testing

/// `samples/cluster.json` (copied as a fixture) gives the verdicts its README promises.
@Suite struct SampleClusterTests {
    static func state() throws -> ClusterState { try ClusterState.load(from: [Scenario.fixture("sample-cluster.json")]) }

    @Test(arguments: [
        ("worker-1", nil, ""),
        ("worker-2", FailureReason.tooManyExistingFailures, "data/cassandra would have 1 healthy of 2 required"),
        ("worker-3", FailureReason.tooManyExistingFailures, "data/cassandra would have 1 healthy of 2 required"),
        ("worker-4", nil, ""),
        ("worker-5", FailureReason.notEnoughResources, "ml/trainer-0"),
        ("worker-6", nil, ""),
        ("worker-9", FailureReason.genericFailure, "not in the cluster state"),
    ] as [(String, FailureReason?, String)])
    func sampleVerdicts(node: String, reason: FailureReason?, text: String) throws {
        let v = PolicyEngine().decide(DecisionInput(node: node, transition: .enter(.plannedDowntime), state: .known(try Self.state())))
        #expect(v.allowed == (reason == nil), "\(v.message)")
        #expect(v.reason == reason)
        if !text.isEmpty { #expect(v.message.contains(text), "\(v.message)") }
    }

    /// logs/loki-0 keeps its data on a local volume of worker-4: it waits for a planned downtime and
    /// cannot drain.
    @Test func worker4HoldsALocalVolume() throws {
        let state = try Self.state()
        let waits = PolicyEngine().decide(DecisionInput(node: "worker-4", transition: .enter(.plannedDowntime), state: .known(state)))
        #expect(waits.allowed, "\(waits.message)")
        #expect(waits.findings.placements.first { $0.pod.name == "loki-0" }?.waitsFor == "local volume local-pv-worker-4-nvme0 (claim logs/storage-loki-0)")
        let drain = PolicyEngine().decide(DecisionInput(node: "worker-4", transition: .enter(.drain), state: .known(state)))
        #expect(drain.reason == .notEnoughResources)
        #expect(drain.relatedPods == [PodRef(namespace: "logs", name: "loki-0")])
        #expect(drain.message.contains("logs/loki-0: local volume local-pv-worker-4-nvme0 (claim logs/storage-loki-0) is local to worker-4"))
        let plan = RolloutPlan.make(state: state, engine: PolicyEngine(), level: .drain)
        #expect(plan.blocked.map(\.node) == ["worker-2", "worker-3", "worker-4", "worker-5"])
    }

    @Test func worker1LeavesDaemonSetMirrorAndFinishedPodsOut() throws {
        let v = PolicyEngine().decide(DecisionInput(node: "worker-1", transition: .enter(.drain), state: .known(try Self.state())))
        #expect(v.relatedPods.map(\.description) == ["kv/etcd-0", "shop/web-7c9d8f6b5-2xkqp"])
        #expect(v.findings.podsOutOfScope == 3)
        #expect(v.findings.budgets.map { "\($0.name) \($0.healthy)/\($0.required)" } == ["etcd 2/2", "web 2/2"])
    }

    @Test func checkReportRendersTextAndJSON() throws {
        let report = CheckReport.make(node: "worker-3", state: try Self.state(), engine: PolicyEngine())
        #expect(report.exitCode == 1)
        #expect(report.text.contains("FAIL data/cassandra: healthy 1 / required 2 (expected 3, maxUnavailable 1)"))
        #expect(report.text.contains("ok   kv/etcd: healthy 2 / required 2"))
        #expect(report.text.contains("data/cassandra-1 [cpu 1, memory 4Gi] -> worker-"))
        let json = try JSON.parse(report.json)
        #expect(json["allowed"] == .bool(false))
        #expect(json["reason"]?.string == "TooManyExistingFailures")
        let budgets = try #require(json["budgets"]?.array)
        #expect(budgets.contains { $0["name"]?.string == "cassandra" && $0["healthy"]?.int == 1 && $0["required"]?.int == 2 })
        #expect(json["placements"]?.array?.count == 2)
        #expect(CheckReport.make(node: "worker-1", state: try Self.state(), engine: PolicyEngine()).exitCode == 0)
    }

    @Test func planTakesEveryNodeThroughOrSaysWhyNot() throws {
        let plan = RolloutPlan.make(state: try Self.state(), engine: PolicyEngine(config: try PolicyConfig.load(yaml: "maxNodesInMaintenance: 2")))
        #expect(plan.blocked.map(\.node) == ["worker-2", "worker-3", "worker-5"])
        #expect(plan.blocked.map(\.reason) == [.tooManyExistingFailures, .tooManyExistingFailures, .notEnoughResources])
        let planned = plan.waves.flatMap(\.nodes).sorted()
        #expect(planned == ["worker-1", "worker-4", "worker-6"])
        #expect(plan.waves.allSatisfy { $0.nodes.count <= 2 })
        #expect(plan.waves.count == 2)
        #expect(plan.text.contains("never pass (3):"))
        let json = try JSON.parse(plan.json)
        #expect(json["waves"]?.array?.count == 2)
    }
}
