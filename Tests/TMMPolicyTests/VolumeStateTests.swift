import TMMJSON
import TMMPolicy
import Testing

/// PersistentVolumes, PersistentVolumeClaims and the pod fields the scheduler's filters read, from JSON
/// as `kubectl get nodes,pods,pdb,pv,pvc -A -o json` and the API server's typed lists print them.
@Suite struct VolumeStateTests {
    static let mixed = """
        {"kind":"List","apiVersion":"v1","items":[
          {"kind":"Node","metadata":{"name":"n1","labels":{"kubernetes.io/hostname":"n1"}},
           "status":{"allocatable":{"cpu":"4","memory":"8Gi","pods":"110","ephemeral-storage":"100Gi","nvidia.com/gpu":"2",
                     "hugepages-2Mi":"0","attachable-volumes-aws-ebs":"25"},"conditions":[{"type":"Ready","status":"True"}]}},
          {"kind":"PersistentVolume","apiVersion":"v1","metadata":{"name":"pv-n1"},
           "spec":{"capacity":{"storage":"100Gi"},"accessModes":["ReadWriteOnce"],"persistentVolumeReclaimPolicy":"Retain",
                   "local":{"path":"/mnt/disks/ssd1"},"storageClassName":"local-storage",
                   "claimRef":{"kind":"PersistentVolumeClaim","namespace":"store","name":"data-db-0","uid":"x"},
                   "nodeAffinity":{"required":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"kubernetes.io/hostname","operator":"In","values":["n1"]}]}]}}},
           "status":{"phase":"Bound"}},
          {"kind":"PersistentVolumeClaim","apiVersion":"v1","metadata":{"name":"data-db-0","namespace":"store"},
           "spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"100Gi"}},"volumeName":"pv-n1"},"status":{"phase":"Bound"}},
          {"kind":"PersistentVolumeClaim","apiVersion":"v1","metadata":{"name":"pending","namespace":"store"},
           "spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}},"status":{"phase":"Pending"}},
          {"kind":"Pod","metadata":{"name":"db-0","namespace":"store","labels":{"app":"db","controller-revision-hash":"db-5c"}},
           "spec":{"nodeName":"n1",
             "containers":[{"name":"db","ports":[{"containerPort":9042,"hostPort":9042},{"containerPort":7000}],
                            "resources":{"requests":{"cpu":"1","memory":"1Gi","ephemeral-storage":"2Gi"},"limits":{"nvidia.com/gpu":"1"}}},
                           {"name":"exporter","ports":[{"containerPort":9100,"hostPort":9100,"protocol":"UDP","hostIP":"10.0.0.1"}]}],
             "initContainers":[{"name":"init","resources":{"requests":{"ephemeral-storage":"5Gi"}}}],
             "volumes":[{"name":"data","persistentVolumeClaim":{"claimName":"data-db-0"}},{"name":"scratch","ephemeral":{"volumeClaimTemplate":{}}},
                        {"name":"config","configMap":{"name":"c"}}],
             "affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"disk","operator":"Exists"}]}]}},
               "podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[
                 {"labelSelector":{"matchLabels":{"app":"db"}},"topologyKey":"kubernetes.io/hostname","matchLabelKeys":["controller-revision-hash"]}],
                 "preferredDuringSchedulingIgnoredDuringExecution":[{"weight":1,"podAffinityTerm":{"labelSelector":{},"topologyKey":"zone"}}]},
               "podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[
                 {"labelSelector":{"matchExpressions":[{"key":"app","operator":"In","values":["cache"]}]},"namespaces":["caches"],"topologyKey":"zone"},
                 {"labelSelector":{"matchLabels":{"app":"log"}},"namespaceSelector":{},"topologyKey":"zone"}]}},
             "topologySpreadConstraints":[
               {"maxSkew":2,"topologyKey":"topology.kubernetes.io/zone","whenUnsatisfiable":"DoNotSchedule","labelSelector":{"matchLabels":{"app":"db"}},
                "minDomains":3,"nodeAffinityPolicy":"Ignore","nodeTaintsPolicy":"Honor","matchLabelKeys":["controller-revision-hash"]},
               {"maxSkew":1,"topologyKey":"kubernetes.io/hostname","whenUnsatisfiable":"ScheduleAnyway","labelSelector":{"matchLabels":{"app":"db"}}}]},
           "status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}
        ]}
        """

    @Test func readsVolumesClaimsAndTheFiltersOfAPod() throws {
        var merged = ClusterState.MergedObjects()
        var state = ClusterState()
        try state.merge(json: Array(Self.mixed.utf8), recording: &merged)
        #expect(merged.persistentVolumes == ["pv-n1"])
        #expect(merged.persistentVolumeClaims == [PodRef(namespace: "store", name: "data-db-0"), PodRef(namespace: "store", name: "pending")])

        let node = try #require(state.node(named: "n1"))
        #expect(node.allocatable.ephemeralStorageBytes == 100 << 30)
        #expect(node.extendedAllocatable == ["nvidia.com/gpu": 2, "hugepages-2Mi": 0])

        let pv = try #require(state.persistentVolume(named: "pv-n1"))
        #expect(pv.local && pv.claim == PodRef(namespace: "store", name: "data-db-0"))
        #expect(pv.nodeAffinity == [NodeSelectorTerm(matchExpressions: [LabelRequirement("kubernetes.io/hostname", .in, ["n1"])])])
        #expect(state.persistentVolumeClaim(namespace: "store", name: "data-db-0")?.volumeName == "pv-n1")
        #expect(state.persistentVolumeClaim(namespace: "store", name: "pending")?.volumeName == nil)

        let pod = try #require(state.pod(namespace: "store", name: "db-0"))
        #expect(pod.requests.cpuMillis == 1000 && pod.requests.ephemeralStorageBytes == 5 << 30)  // the init container's 5Gi wins
        #expect(pod.extendedRequests == ["nvidia.com/gpu": 1])  // limits stand in for requests
        #expect(pod.hostPorts == [HostPort(port: 9042), HostPort(port: 9100, protocol: "UDP", hostIP: "10.0.0.1")])
        #expect(pod.claims == ["data-db-0", "db-0-scratch"])
        #expect(pod.requiredNodeAffinity == [NodeSelectorTerm(matchExpressions: [LabelRequirement("disk", .exists)])])
        #expect(
            pod.podAntiAffinity == [
                PodAffinityTerm(
                    labelSelector: LabelSelector([LabelRequirement("app", .in, ["db"]), LabelRequirement("controller-revision-hash", .in, ["db-5c"])]),
                    namespaces: ["store"], topologyKey: "kubernetes.io/hostname")
            ])
        #expect(pod.podAffinity.count == 2)
        #expect(pod.podAffinity[0].namespaces == ["caches"] && pod.podAffinity[0].topologyKey == "zone")
        #expect(pod.podAffinity[1].namespaceSelector == .everything && pod.podAffinity[1].namespaces.isEmpty)
        let spread = try #require(pod.topologySpread.first)
        #expect(spread.maxSkew == 2 && spread.doNotSchedule && spread.minDomains == 3)
        #expect(!spread.honorNodeAffinity && spread.honorTaints)
        #expect(spread.labelSelector?.requirements.count == 2)
        #expect(pod.topologySpread.count == 2 && !pod.topologySpread[1].doNotSchedule)
    }

    @Test func typedListsAndSingleObjects() throws {
        let pvs = #"{"kind":"PersistentVolumeList","items":[{"metadata":{"name":"a"},"spec":{}},{"metadata":{"name":"b"},"spec":{"hostPath":{"path":"/x"}}}]}"#
        let pvcs = #"{"kind":"PersistentVolumeClaimList","items":[{"metadata":{"name":"c","namespace":"ns"},"spec":{"volumeName":"a"}}]}"#
        var state = try ClusterState.load(from: [Array(pvs.utf8), Array(pvcs.utf8)])
        #expect(state.persistentVolumeNames.sorted() == ["a", "b"])
        #expect(state.persistentVolume(named: "b")?.local == true && state.persistentVolume(named: "a")?.local == false)
        #expect(state.persistentVolumeClaimRefs == [PodRef(namespace: "ns", name: "c")])
        let volume = try PersistentVolume(json: JSON.parse(#"{"kind":"PersistentVolume","metadata":{"name":"z"},"spec":{"claimRef":{"name":"q"}}}"#))
        #expect(volume == PersistentVolume(name: "z", claim: PodRef(namespace: "default", name: "q")))
        let claim = try PersistentVolumeClaim(json: JSON.parse(#"{"metadata":{"name":"q"},"spec":{"volumeName":""}}"#))
        #expect(claim == PersistentVolumeClaim(namespace: "default", name: "q", volumeName: nil))
        // Untyped items are recognised by their shape.
        try state.merge(json: Array(#"{"kind":"List","items":[{"metadata":{"name":"g"},"spec":{"persistentVolumeReclaimPolicy":"Delete"}},{"metadata":{"name":"h","namespace":"ns"},"spec":{"volumeName":"g"}}]}"#.utf8))
        #expect(state.persistentVolumeCount == 3 && state.persistentVolumeClaimCount == 2)
        // Removal, as a relist does for what the server no longer has.
        state.remove(persistentVolume: "a")
        state.remove(namespace: "ns", persistentVolumeClaim: "c")
        state.remove(namespace: "nowhere", persistentVolumeClaim: "c")
        #expect(state.persistentVolumeNames.sorted() == ["b", "g"])
        #expect(state.persistentVolumeClaimRefs == [PodRef(namespace: "ns", name: "h")])
    }

    @Test func aDumpWithoutVolumesStillLoads() throws {
        let state = try ClusterStateTests.realState()
        #expect(state.persistentVolumeCount == 0 && state.persistentVolumeClaimCount == 0 && state.nodeNames.count == 3)
        let v = PolicyEngine().decide(DecisionInput(node: "n2", transition: .enter(.drain), state: .known(state)))
        #expect(v.allowed, "\(v.message)")
    }

    /// Volumes and claims change under a live cache: the decision follows.
    @Test func volumeUpdatesChangeTheDecision() {
        var state = Scenario.state("node n1; node n2 cpu=0; pod s/db n1 pvc=data")
        func drain() -> Verdict { PolicyEngine().decide(DecisionInput(node: "n1", transition: .enter(.plannedDowntime), state: .known(state))) }
        #expect(drain().reason == .notEnoughResources)
        state.upsert(persistentVolume: PersistentVolume(name: "pv", nodeAffinity: [NodeSelectorTerm(matchFields: [LabelRequirement("metadata.name", .in, ["n1"])])]))
        #expect(drain().reason == .notEnoughResources)  // the claim is not bound yet
        state.upsert(persistentVolumeClaim: PersistentVolumeClaim(namespace: "s", name: "data", volumeName: "pv"))
        #expect(drain().allowed, "\(drain().message)")
        state.remove(persistentVolume: "pv")
        #expect(drain().reason == .notEnoughResources)
    }

    /// The indexes behind the filters follow pod and node updates (anti-affinity holders, host ports,
    /// extended resources, labels).
    @Test func podAndNodeUpdatesKeepTheFilterIndexesRight() throws {
        var state = Scenario.state("node n1; node n2; pod x/a n1 app=x; pod x/b n2 anti=kubernetes.io/hostname:app=x port=80 res=gpu=1")
        func decide() -> Verdict { PolicyEngine().decide(DecisionInput(node: "n1", transition: .enter(.plannedDowntime), state: .known(state))) }
        #expect(decide().message.contains("required anti-affinity of x/b on n2"))
        // b loses its anti-affinity: a may go.
        var b = try #require(state.pod(namespace: "x", name: "b"))
        #expect(b.hostPorts == [HostPort(port: 80)] && b.extendedRequests == ["gpu": 1])
        b.podAntiAffinity = []
        state.upsert(pod: b)
        #expect(decide().allowed)
        // a asks for b's port: refused; b finishes: allowed.
        var a = try #require(state.pod(namespace: "x", name: "a"))
        a.hostPorts = [HostPort(port: 80)]
        state.upsert(pod: a)
        #expect(decide().message.contains("host port 80/TCP held by x/b on n2"))
        b.phase = .succeeded
        state.upsert(pod: b)
        #expect(decide().allowed)
        // a wants b's gpu on a node that has one, while b runs.
        b.phase = .running
        state.upsert(pod: b)
        a.hostPorts = []
        a.extendedRequests = ["gpu": 1]
        state.upsert(pod: a)
        var n2 = try #require(state.node(named: "n2"))
        n2.extendedAllocatable = ["gpu": 2]
        state.upsert(node: n2)
        #expect(decide().allowed)
        state.remove(namespace: "x", pod: "b")
        n2.extendedAllocatable = ["gpu": 1]
        state.upsert(node: n2)
        #expect(decide().allowed)
        // A node label change moves it out of the pod's affinity domain.
        state.upsert(pod: Pod(namespace: "x", name: "c", nodeName: "n2", labels: ["app": "cache"]))
        a.extendedRequests = [:]
        a.podAffinity = [PodAffinityTerm(labelSelector: LabelSelector(matchLabels: ["app": "cache"]), topologyKey: "zone")]
        state.upsert(pod: a)
        #expect(decide().reason == .notEnoughResources)  // n2 has no zone label
        n2.labels["zone"] = "z"
        state.upsert(node: n2)
        #expect(decide().allowed)
        n2.labels["zone"] = nil
        state.upsert(node: n2)
        #expect(decide().reason == .notEnoughResources)
    }
}
