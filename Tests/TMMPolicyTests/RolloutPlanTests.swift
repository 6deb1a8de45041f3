import TMMPolicy
import Testing

@Suite struct RolloutPlanTests {
    static func plan(_ state: String, _ config: String) throws -> RolloutPlan {
        RolloutPlan.make(state: Scenario.state(state), engine: PolicyEngine(config: try PolicyConfig.load(yaml: config)))
    }

    /// Every wave must pass when its nodes enter one after the other from the base state.
    static func wavesPass(_ plan: RolloutPlan, _ state: String, _ config: String) throws -> Bool {
        let engine = PolicyEngine(config: try PolicyConfig.load(yaml: config))
        let s = Scenario.state(state)
        for wave in plan.waves {
            var pending = Set<String>()
            for node in wave.nodes {
                let v = engine.decide(DecisionInput(node: node, transition: .enter(.drain), state: .known(s), pendingEntries: pending))
                if !v.allowed { return false }
                pending.insert(node)
            }
        }
        return true
    }

    @Test func etcdReplicasGoOneAtATimeEvenWhenMoreAreAllowed() throws {
        let state = "node e1; node e2; node e3; node e4; set kv/etcd e1,e2,e3 app=etcd; pdb kv/etcd app=etcd min=2"
        let config = "maxNodesInMaintenance: 2"
        let plan = try Self.plan(state, config)
        #expect(plan.blocked.isEmpty)
        #expect(plan.waves.count == 3)
        #expect(plan.waves.allSatisfy { $0.nodes.filter { $0.hasPrefix("e") && $0 != "e4" }.count == 1 })
        #expect(try Self.wavesPass(plan, state, config))
    }

    @Test func wavesHoldOneFailureDomain() throws {
        let state = "node a1 z=a; node a2 z=a; node b1 z=b; node b2 z=b; node c1 z=c; pod x/p a1; pod x/q b1"
        let config = "maxNodesInMaintenance: 2\nfailureDomainLabel: z"
        let plan = try Self.plan(state, config)
        #expect(plan.waves.map(\.nodes) == [["a1", "a2"], ["b1", "b2"], ["c1"]])
        #expect(plan.waves.map(\.domain) == ["a", "b", "c"])
    }

    @Test func jointCapacityLimitsAWave() throws {
        // Each node's pod fits elsewhere alone, but two entries at once leave no room for both.
        let state = "node n1 cpu=3; node n2 cpu=3; node n3 cpu=3; set app/p n1,n2,n3 cpu=1500m"
        let config = "maxNodesInMaintenance: 3"
        let plan = try Self.plan(state, config)
        #expect(plan.blocked.isEmpty)
        #expect(plan.waves.allSatisfy { $0.nodes.count == 1 })
        #expect(try Self.wavesPass(plan, state, config))
    }

    @Test func nodesInMaintenanceNowAreAssumedBack() throws {
        let plan = try Self.plan("node n1 maint; node n2; node n3", "")
        #expect(plan.waves.map(\.nodes) == [["n1"], ["n2"], ["n3"]])
        #expect(plan.notes.first?.contains("n1 back in service") == true)
    }
}
