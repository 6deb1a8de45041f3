import TMMPolicy
import Testing

/// The four stories of issue 11: the scheduler's view of "fits elsewhere", and levels that mean something.
@Suite struct SchedulerScenarioTests {
    static func decide(_ state: String, _ node: String = "n1", level: MaintenanceLevel = .plannedDowntime) -> Verdict {
        PolicyEngine().decide(DecisionInput(node: node, transition: .enter(level), state: .known(Scenario.state(state))))
    }

    /// A quorum store: 3 replicas, one per node by required anti-affinity on the hostname.
    static let quorumStore = """
        node n1; node n2; node n3;
        set store/db n1,n2,n3 app=db anti=kubernetes.io/hostname:app=db
        """

    @Test func oneReplicaPerNodeHasNowhereToGo() {
        let v = Self.decide(Self.quorumStore)
        #expect(!v.allowed)
        #expect(v.reason == .notEnoughResources)
        #expect(v.message.contains("store/db-0: required anti-affinity with store/db-1 on n2 and store/db-2 on n3"), "\(v.message)")
        #expect(v.relatedPods == [PodRef(namespace: "store", name: "db-0")])
        // A fourth node takes it.
        let more = Self.decide(Self.quorumStore + "; node n4")
        #expect(more.allowed, "\(more.message)")
        #expect(more.findings.placements.map(\.node) == ["n4"])
    }

    static let exporters = "node n1; node n2; node n3; pod mon/exp-a n1 port=9100; pod mon/exp-b n2 port=9100"

    @Test func hostPortTakenOnEveryOtherNode() {
        let v = Self.decide(Self.exporters + "; pod mon/exp-c n3 port=9100")
        #expect(v.reason == .notEnoughResources)
        #expect(v.message.contains("mon/exp-a: host port 9100/TCP held by mon/exp-b on n2 and mon/exp-c on n3"), "\(v.message)")
        // Free on n3: it goes there.
        let free = Self.decide(Self.exporters + "; pod mon/other n3 port=9200")
        #expect(free.allowed, "\(free.message)")
        #expect(free.findings.placements.first?.node == "n3")
    }

    static let zones = """
        node n1 topology.kubernetes.io/zone=a; node n2 topology.kubernetes.io/zone=b; node n3 topology.kubernetes.io/zone=c;
        set web/web n1,n2,n3 app=web spread=topology.kubernetes.io/zone:1:app=web
        """

    @Test func zoneSpreadWouldLeaveTheMovedPodPending() {
        // Zone a empties: any other zone would hold 2 against a's 0, a skew of 2 > 1.
        let v = Self.decide(Self.zones)
        #expect(v.reason == .notEnoughResources)
        #expect(v.message.contains("web/web-0: topology spread constraint (topology.kubernetes.io/zone, maxSkew 1) on n2 and n3"), "\(v.message)")
        // Another node in zone a keeps the spread.
        let second = Self.decide(Self.zones + "; node n4 topology.kubernetes.io/zone=a")
        #expect(second.allowed, "\(second.message)")
        #expect(second.findings.placements.first?.node == "n4")
        // With maxSkew 2 the other zones will do.
        let loose = Self.decide(Self.zones.replacingOccurrences(of: "zone:1:", with: "zone:2:"))
        #expect(loose.allowed, "\(loose.message)")
    }

    /// db-0's claim is bound to a volume on n1's own disks; no other node has cpu to spare.
    static let localVolume = """
        node n1 cpu=2; node n2 cpu=1; node n3 cpu=1;
        pod other/fill-2 n2 cpu=1; pod other/fill-3 n3 cpu=1;
        pod store/db-0 n1 app=db cpu=1 pvc=data-{pod};
        pvc store/data-db-0 pv-n1; pv pv-n1 kubernetes.io/hostname=n1 local claim=store/data-db-0
        """

    @Test func aLocalVolumeWaitsAtPlannedDowntime() throws {
        let v = Self.decide(Self.localVolume)
        #expect(v.allowed, "\(v.message)")
        #expect(v.message.contains("1 pod(s) wait for the node's local volumes"), "\(v.message)")
        let p = try #require(v.findings.placements.first)
        #expect(p.node == nil && p.lacking == nil)
        #expect(p.waitsFor == "local volume pv-n1 (claim store/data-db-0)")
        // The same pod without its volume must find cpu elsewhere, and cannot.
        let plain = Self.decide(Self.localVolume.replacingOccurrences(of: " pvc=data-{pod}", with: ""))
        #expect(plain.reason == .notEnoughResources)
        #expect(plain.message.contains("needs cpu 1, at most 0 free on n2 and n3"), "\(plain.message)")
    }

    @Test func aLocalVolumeCannotDrain() {
        let v = Self.decide(Self.localVolume, level: .drain)
        #expect(v.reason == .notEnoughResources)
        #expect(
            v.message.contains("store/db-0: local volume pv-n1 (claim store/data-db-0) is local to n1"), "\(v.message)")
        #expect(v.relatedPods == [PodRef(namespace: "store", name: "db-0")])
        // An escalation is a drain too.
        let escalate = PolicyEngine().decide(
            DecisionInput(node: "n1", transition: .escalate(.drain), state: .known(Scenario.state(Self.localVolume))))
        #expect(escalate.reason == .notEnoughResources)
    }

    @Test func aWaitingPodStillCountsForQuorum() {
        let store = """
            node n1; node n2; node n3;
            set store/db n1,n2,n3 app=db pvc=data-{pod}; pdb store/db app=db min=2;
            pvc store/data-db-0 pv-n1; pv pv-n1 kubernetes.io/hostname=n1 local
            """
        #expect(Self.decide(store).allowed)
        let v = Self.decide(store + "; pod store/db-2 n3 app=db unready")
        #expect(v.reason == .tooManyExistingFailures, "\(v.message)")
        #expect(v.message.contains("store/db would have 1 healthy of 2 required"))
    }

    @Test func checkAndPlanAskAboutEitherLevel() throws {
        let state = Scenario.state(Self.localVolume)
        let waits = CheckReport.make(node: "n1", state: state, engine: PolicyEngine())
        #expect(waits.exitCode == 0)
        #expect(waits.text.contains("store/db-0 [cpu 1, memory 128Mi] -> stays, waits for the node (local volume pv-n1"), "\(waits.text)")
        #expect(waits.json.contains(#""waitsFor":"local volume pv-n1 (claim store/data-db-0)""#))
        let drain = CheckReport.make(node: "n1", state: state, engine: PolicyEngine(), level: .drain)
        #expect(drain.exitCode == 1)
        #expect(drain.text.contains("-> NOWHERE: local volume pv-n1"))

        #expect(!RolloutPlan.make(state: state, engine: PolicyEngine()).blocked.contains { $0.node == "n1" })
        let plan = RolloutPlan.make(state: state, engine: PolicyEngine(), level: .drain)
        #expect(plan.blocked.first { $0.node == "n1" }?.reason == .notEnoughResources)
    }
}
