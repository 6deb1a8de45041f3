import TMMPolicy
import Testing

/// Whole-cluster stories: a 3-rack Cassandra ring and a 3-replica etcd.
@Suite struct ScenarioTests {
    /// Three racks of two nodes, one Cassandra pod per node, a budget that lets one rack's two pods go
    /// (maxUnavailable 2 of 6), and racks as failure domains.
    static let ring = """
        node r1-a rack=r1; node r1-b rack=r1; node r2-a rack=r2; node r2-b rack=r2; node r3-a rack=r3; node r3-b rack=r3;
        set db/cass r1-a,r1-b,r2-a,r2-b,r3-a,r3-b app=cassandra cpu=500m; pdb db/cass app=cassandra max=2
        """
    static let ringConfig = "failureDomainLabel: rack\nmaxNodesInMaintenance: 2"

    static func decide(_ state: String, _ node: String, config: String, pending: Set<String> = []) throws -> Verdict {
        let engine = PolicyEngine(config: try PolicyConfig.load(yaml: config))
        return engine.decide(
            DecisionInput(node: node, transition: .enter(.drain), state: .known(Scenario.state(state)), pendingEntries: pending))
    }

    @Test(arguments: [
        ("", "r1-a", [], true),
        ("; node r1-b rack=r1 maint", "r1-a", [], true),  // same rack: one degraded rack
        ("", "r1-a", ["r1-b"], true),
        ("; node r2-a rack=r2 maint", "r1-a", [], false),  // a second rack would degrade
        ("; node r3-b rack=r3 notready", "r1-a", [], false),
        ("; pod db/cass-2 r2-a app=cassandra unready", "r1-a", [], true),  // r2 degraded but one pod only: budget 2 ok
        ("; pod db/cass-3 r2-b app=cassandra unready; pod db/cass-2 r2-a app=cassandra unready", "r1-a", [], false),
    ] as [(String, String, Set<String>, Bool)])
    func cassandraRing(extra: String, node: String, pending: Set<String>, allowed: Bool) throws {
        let v = try Self.decide(Self.ring + extra, node, config: Self.ringConfig, pending: pending)
        #expect(v.allowed == allowed, "\(v.message)")
        if !allowed { #expect(v.reason == .tooManyExistingFailures) }
    }

    static let etcd = "node e1; node e2; node e3; set kv/etcd e1,e2,e3 app=etcd cpu=1; pdb kv/etcd app=etcd min=2"

    @Test(arguments: [
        ("", "maxNodesInMaintenance: 3", [], true, ""),
        ("; pod kv/etcd-1 e2 app=etcd cpu=1 unready", "maxNodesInMaintenance: 3", [], false, "1 healthy of 2"),
        ("; node e2 maint", "maxNodesInMaintenance: 3", [], false, "1 healthy of 2"),
        ("", "maxNodesInMaintenance: 3", ["e3"], false, "1 healthy of 2"),
        ("; node e4", "maxNodesInMaintenance: 3", ["e4"], true, ""),
    ] as [(String, String, Set<String>, Bool, String)])
    func etcdNeedsTwoOfThree(extra: String, config: String, pending: Set<String>, allowed: Bool, text: String) throws {
        let v = try Self.decide(Self.etcd + extra, "e1", config: config, pending: pending)
        #expect(v.allowed == allowed, "\(v.message)")
        if !allowed {
            #expect(v.reason == .tooManyExistingFailures)
            #expect(v.relatedPods == [PodRef(namespace: "kv", name: "etcd-0")])
            #expect(v.message.contains(text))
        }
    }
}
