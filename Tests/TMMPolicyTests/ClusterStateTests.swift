import TMMJSON
import TMMPolicy
import Testing

@Suite struct ClusterStateTests {
    static func realState() throws -> ClusterState {
        try ClusterState.load(from: [
            Scenario.fixture("list-nodes.json"), Scenario.fixture("list-pods.json"), Scenario.fixture("list-pdbs.json"),
        ])
    }

    @Test func loadsTheRealAPIServerLists() throws {
        let state = try Self.realState()
        #expect(state.nodeNames == ["n1", "n2", "n3"])
        #expect(state.podCount == 3 && state.budgetCount == 1)
        let n1 = try #require(state.node(named: "n1"))
        #expect(n1.ready && !n1.unschedulable && n1.taints.isEmpty)
        #expect(n1.allocatable == Resources(cpuMillis: 4000, memoryBytes: 8 << 30, pods: 110))
        #expect(n1.labels["topology.kubernetes.io/zone"] == "zone-n1")
        let pod = try #require(state.pod(namespace: "store", name: "db-0"))
        #expect(pod.nodeName == "n1" && pod.ready && pod.phase == .running && !pod.daemonSetOwned && !pod.mirror)
        #expect(pod.requests == Resources(cpuMillis: 500, memoryBytes: 1 << 30, pods: 1))
        #expect(pod.labels == ["app": "db", "statefulset.kubernetes.io/pod-name": "db-0"])
        #expect(pod.annotations.isEmpty)  // last-applied-configuration is not kept
        #expect(pod.tolerations.count == 3)
        let pdb = try #require(state.disruptionBudgets.first)
        #expect(pdb.minAvailable == .int(2) && pdb.maxUnavailable == nil)
        #expect(pdb.selector == LabelSelector(matchLabels: ["app": "db"]))
    }

    @Test func decidesOnTheRealState() throws {
        let state = try Self.realState()
        let engine = PolicyEngine()
        let allowed = engine.decide(DecisionInput(node: "n2", transition: .enter(.plannedDowntime), state: .known(state)))
        #expect(allowed.allowed)
        #expect(allowed.findings.budgets.map { ($0.healthy, $0.required) }.first! == (2, 2))
        let denied = engine.decide(
            DecisionInput(node: "n2", transition: .enter(.plannedDowntime), state: .known(state), pendingEntries: ["n1"]))
        #expect(denied.reason == .tooManyExistingFailures)
    }

    @Test func aPageOfPodsMergesAndLaterDocumentsReplace() throws {
        var state = try ClusterState.load(from: [Scenario.fixture("list-pods-page1.json")])
        #expect(state.podCount == 2)
        try state.merge(json: Scenario.fixture("list-pods.json"))
        #expect(state.podCount == 3)
        #expect(state.pods(onNode: "n1") == [PodRef(namespace: "store", name: "db-0")])
    }

    @Test func readsAMixedListWithDefaultsAndUnknownFields() throws {
        let json = """
            {"kind":"List","apiVersion":"v1","items":[
              {"metadata":{"name":"w1","labels":{"a":"b"}},"spec":{"unschedulable":true,"taints":[{"key":"drain","value":"drain","effect":"NoSchedule"}],"future":{"x":[1,2]}},
               "status":{"capacity":{"cpu":"2","memory":"1Gi"},"conditions":[{"type":"Ready","status":"False"}]},"kind":"Node","apiVersion":"v1"},
              {"kind":"Pod","metadata":{"name":"p","ownerReferences":[{"kind":"DaemonSet","controller":true}],"annotations":{"kubernetes.io/config.mirror":"x","emm-failure":"GenericFailure"}},
               "spec":{"nodeName":"w1","overhead":{"cpu":"10m"},"containers":[{"resources":{"requests":{"cpu":"100m","memory":"1e3"}}},{"resources":{"limits":{"cpu":"1","memory":"64Mi"}}}],
                       "initContainers":[{"resources":{"requests":{"cpu":"2","memory":"1Mi"}}},{"restartPolicy":"Always","resources":{"requests":{"cpu":"50m","memory":"1Ki"}}}]},
               "status":{"phase":"Succeeded"}},
              {"kind":"PodDisruptionBudget","metadata":{"name":"b","namespace":"x"},"spec":{"maxUnavailable":"25%","selector":{"matchExpressions":[{"key":"app","operator":"In","values":["a"]}]}}},
              {"kind":"Service","metadata":{"name":"ignored"}}
            ]}
            """
        let state = try ClusterState.load(from: [Array(json.utf8)])
        let node = try #require(state.node(named: "w1"))
        #expect(node.unschedulable && !node.ready)
        #expect(node.allocatable == Resources(cpuMillis: 2000, memoryBytes: 1 << 30, pods: 110))
        #expect(node.taints == [Taint(key: "drain", value: "drain", effect: "NoSchedule")])
        let pod = try #require(state.pod(namespace: "default", name: "p"))
        #expect(pod.daemonSetOwned && pod.mirror && pod.phase == .succeeded && !pod.ready)
        // containers 1100m / 64Mi+1000; the sidecar (after the 2-cpu init container) adds 50m / 1Ki;
        // init max is 2 cpu; overhead 10m.
        #expect(pod.requests.cpuMillis == 2000 + 10)
        #expect(pod.requests.memoryBytes == (64 << 20) + 1000 + 1024)
        #expect(state.annotation(namespace: "default", pod: "p", key: "emm-failure") == "GenericFailure")
        let b = try #require(state.disruptionBudgets.first)
        #expect(b.maxUnavailable == .percent(25) && b.namespace == "x")
    }

    @Test func guessesTheKindOfUntypedItems() throws {
        let json = """
            {"kind":"List","items":[{"metadata":{"name":"w"},"spec":{"taints":[]},"status":{"conditions":[{"type":"Ready","status":"True"}]}},
              {"metadata":{"name":"p"},"spec":{"nodeName":"w","containers":[]}},
              {"metadata":{"name":"b"},"spec":{"minAvailable":1,"selector":{}}}]}
            """
        let state = try ClusterState.load(from: [Array(json.utf8), Array(#"{"kind":"PodList","items":null}"#.utf8)])
        #expect(state.nodeNames == ["w"] && state.podCount == 1 && state.budgetCount == 1)
        #expect(state.disruptionBudgets.first?.selector == .everything)
    }

    @Test(arguments: ["", "{", "{\"kind\":\"List\",\"items\":[{\"kind\":\"Pod\",\"spec\":{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"lots\"}}}]}}]}"])
    func rejectsBadDocuments(text: String) {
        #expect(throws: PolicyError(.state, "")) { try ClusterState.load(from: [Array(text.utf8)]) }
    }

    @Test func objectsFromJSONTrees() throws {
        let json = try JSON.parse(#"{"metadata":{"name":"a","namespace":"n","labels":{"x":"y"}},"spec":{"nodeName":"w"},"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}"#)
        let pod = try Pod(json: json)
        #expect(pod.name == "a" && pod.namespace == "n" && pod.nodeName == "w" && pod.ready)
        let state = try ClusterState.load(from: [json])
        #expect(state.podCount == 1)
    }

    @Test func mutationsKeepTheIndexesRight() throws {
        var state = Scenario.state("node n1; node n2; node n3; set kv/etcd n1,n2,n3 app=etcd; pdb kv/etcd app=etcd min=2")
        let engine = PolicyEngine()
        func decide(_ s: ClusterState) -> Verdict {
            engine.decide(DecisionInput(node: "n1", transition: .enter(.plannedDowntime), state: .known(s)))
        }
        #expect(decide(state).allowed)
        // A replica moves to n1: two of three on the node.
        var moved = try #require(state.pod(namespace: "kv", name: "etcd-1"))
        moved.nodeName = "n1"
        state.upsert(pod: moved)
        #expect(state.pods(onNode: "n1").count == 2 && state.pods(onNode: "n2").isEmpty)
        #expect(decide(state).reason == .tooManyExistingFailures)
        state.remove(namespace: "kv", pod: "etcd-1")
        #expect(decide(state).allowed == false)  // expected 2, healthy 1, required 2
        state.remove(namespace: "kv", budget: "etcd")
        #expect(decide(state).allowed)
        state.upsert(budget: DisruptionBudget(namespace: "kv", name: "etcd", selector: LabelSelector(matchLabels: ["app": "etcd"]), minAvailable: .int(2)))
        #expect(!decide(state).allowed)
        state.upsert(pod: Pod(namespace: "kv", name: "etcd-9", nodeName: "n3", labels: ["app": "etcd"]))
        #expect(decide(state).allowed)
        var n2 = try #require(state.node(named: "n3"))
        n2.ready = false
        state.upsert(node: n2)
        #expect(!decide(state).allowed)
        state.remove(node: "n1")
        #expect(decide(state).reason == .genericFailure)
    }

    @Test func annotationsCanBeSetReadAndRemoved() {
        var state = Scenario.state("node n1; pod a/p n1")
        let set = state.setAnnotation(namespace: "a", pod: "p", key: "emm-failure", value: "NotEnoughResources")
        #expect(set)
        #expect(state.annotation(namespace: "a", pod: "p", key: "emm-failure") == "NotEnoughResources")
        #expect(state.pod(namespace: "a", name: "p")?.annotations == ["emm-failure": "NotEnoughResources"])
        state.setAnnotation(namespace: "a", pod: "p", key: "emm-failure", value: nil)
        #expect(state.annotation(namespace: "a", pod: "p", key: "emm-failure") == nil)
        let missing = state.setAnnotation(namespace: "a", pod: "missing", key: "k", value: "v")
        #expect(!missing)
    }
}
