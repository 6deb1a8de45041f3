// Benchmark of the TMM policy engine at 5,000 nodes, 150,000 pods and 3,000 budgets, a tenth of the pods
// with required anti-affinity and a DoNotSchedule zone spread, some StatefulSets on local volumes.
// Run: swift run -c release tmm-policy-bench [seed]
import Foundation
import TMMPolicy

/// A small deterministic generator (SplitMix64), so runs are comparable.
struct Random {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func chance(_ percent: Int) -> Bool { int(100) < percent }
}

func memory() -> (rss: Int, hwm: Int) {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return (0, 0) }
    func field(_ name: String) -> Int {
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0
        }
        return 0
    }
    return (field("VmRSS:") / 1024, field("VmHWM:") / 1024)
}

func ms(_ d: Duration) -> Double {
    Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
}

func us(_ d: Duration) -> Double { ms(d) * 1000 }

/// CPU time of this thread in µs: unlike the wall clock, it does not count the time other processes on
/// the shared machine take the core away.
func threadCPU() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) * 1e6 + Double(t.tv_nsec) / 1e3
}

func run() {
    let seed = CommandLine.arguments.dropFirst().first.flatMap { UInt64($0) } ?? 42
    var rng = Random(state: seed)
    let nodeCount = 5000
    let namespaces = 1000
    let budgetsWanted = 3000
    let zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    let clock = ContinuousClock()
    let before = memory()

    // MARK: Generate JSON documents like kubectl's, in chunks, and load them.

    func json(_ s: String) -> String { "\"\(s)\"" }

    // Each chunk of 5,000 objects becomes one `v1 List` document, merged into the state at once and
    // dropped, so the resident size measured afterwards is the state's, not the JSON's.
    var nodeNames: [String] = []
    var state = ClusterState()
    var buildTime = Duration.zero
    var jsonBytes = 0
    var items: [String] = []
    func flush() {
        let document = Array(("{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[" + items.joined(separator: ",") + "]}").utf8)
        items.removeAll(keepingCapacity: true)
        jsonBytes += document.count
        buildTime += clock.measure { try! state.merge(json: document) }
    }

    for i in 0..<nodeCount {
        let name = "node-\(String(format: "%05d", i)).compute.internal"
        nodeNames.append(name)
        let zone = zones[i % 3]
        let gpu = i % 20 == 0
        let taints = gpu ? #"[{"key":"nvidia.com/gpu","value":"present","effect":"NoSchedule"}]"# : "[]"
        items.append(
            #"{"apiVersion":"v1","kind":"Node","metadata":{"name":"\#(name)","uid":"\#(UUID().uuidString.lowercased())","resourceVersion":"\#(1000 + i)","#
                + #""labels":{"kubernetes.io/hostname":"\#(name)","kubernetes.io/os":"linux","kubernetes.io/arch":"amd64","topology.kubernetes.io/region":"eu-west-1","#
                + #""topology.kubernetes.io/zone":"\#(zone)","node.kubernetes.io/instance-type":"\#(gpu ? "g5.8xlarge" : "m6i.8xlarge")","node-role.kubernetes.io/worker":""\#(gpu ? #","nvidia.com/gpu.present":"true""# : "")}},"#
                + #""spec":{"providerID":"aws:///\#(zone)/i-\#(String(i, radix: 16))","taints":\#(taints)},"#
                + #""status":{"capacity":{"cpu":"32","memory":"130451456Ki","pods":"110"},"allocatable":{"cpu":"31750m","memory":"127601920Ki","pods":"110"},"#
                + #""conditions":[{"type":"MemoryPressure","status":"False"},{"type":"DiskPressure","status":"False"},{"type":"Ready","status":"True","reason":"KubeletReady"}],"#
                + #""nodeInfo":{"kubeletVersion":"v1.31.2","containerRuntimeVersion":"containerd://1.7.22"}}}"#)
    }
    flush()

    let cpuChoices = ["50m", "100m", "250m", "500m", "1", "1500m", "2"]
    let memChoices = ["64Mi", "128Mi", "256Mi", "512Mi", "1Gi", "2Gi", "4Gi"]
    let tolerations =
        #"[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300},{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}]"#
    var podCount = 0
    var budgetCount = 0
    func pod(ns: String, name: String, node: String, labels: String, owner: (String, String), cpu: String, mem: String,
             extraSpec: String = "", ready: Bool = true, hostPort: Int? = nil, tolerations t: String = tolerations) {
        podCount += 1
        items.append(
            #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"\#(name)","namespace":"\#(ns)","uid":"\#(UUID().uuidString.lowercased())","resourceVersion":"\#(10000 + podCount)","#
                + #""labels":{\#(labels)},"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-11-20T08:00:00Z","prometheus.io/scrape":"true"},"#
                + #""ownerReferences":[{"apiVersion":"apps/v1","kind":"\#(owner.0)","name":"\#(owner.1)","uid":"x","controller":true,"blockOwnerDeletion":true}]},"#
                + #""spec":{"containers":[{"name":"main","image":"registry.example.com/\#(ns)/app:1.4.2","resources":{"requests":{"cpu":"\#(cpu)","memory":"\#(mem)"},"limits":{"memory":"\#(mem)"}},"#
                + #""ports":[{"containerPort":\#(hostPort ?? 8080),\#(hostPort.map { #""hostPort":\#($0),"# } ?? "")"protocol":"TCP"}]},{"name":"proxy","image":"envoy:1.31","resources":{"requests":{"cpu":"10m","memory":"32Mi"}}}],"#
                + #""nodeName":"\#(node)","tolerations":\#(t),"restartPolicy":"Always","schedulerName":"default-scheduler"\#(extraSpec)},"#
                + #""status":{"phase":"Running","conditions":[{"type":"Initialized","status":"True"},{"type":"Ready","status":"\#(ready ? "True" : "False")"},"#
                + #"{"type":"PodScheduled","status":"True"}],"qosClass":"Burstable","podIP":"10.1.\#(podCount % 250).\#(podCount % 200)"}}"#)
        if items.count >= 5000 { flush() }
    }

    // DaemonSets: two per node; node-exporter holds host port 9100.
    for (k, node) in nodeNames.enumerated() {
        for ds in ["node-exporter", "fluent-bit"] {
            pod(ns: "kube-system", name: "\(ds)-\(String(k, radix: 36))", node: node,
                labels: #""app.kubernetes.io/name":"\#(ds)","controller-revision-hash":"7d9f8c","pod-template-generation":"3""#,
                owner: ("DaemonSet", ds), cpu: "100m", mem: "128Mi",
                hostPort: ds == "node-exporter" ? 9100 : nil, tolerations: #"[{"operator":"Exists"}]"#)
        }
    }
    var constrainedPods = 0
    var localVolumes = 0
    // Workloads: deployments and statefulsets until 150,000 pods; budgets on many of them.
    var budgetItems: [String] = []
    var workload = 0
    while podCount < 150_000 {
        let ns = "team-\(workload % namespaces)"
        let stateful = rng.chance(25)
        let replicas = stateful ? 3 : 2 + rng.int(12)
        let app = "svc-\(workload)"
        let cpu = cpuChoices[rng.int(cpuChoices.count)]
        let mem = memChoices[rng.int(memChoices.count)]
        // A tenth of the workloads: one replica per node (required anti-affinity on the hostname) and
        // spread over zones (maxSkew 1, DoNotSchedule), placed round-robin over the zones as the scheduler would.
        let constrained = rng.chance(10)
        let zonePinned = !constrained && rng.chance(10) ? #","nodeSelector":{"topology.kubernetes.io/zone":"\#(zones[rng.int(3)])"}"# : ""
        let constraints = constrained
            ? #","affinity":{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{"labelSelector":{"matchLabels":{"app.kubernetes.io/name":"\#(app)"}},"topologyKey":"kubernetes.io/hostname"}]}},"#
                + #""topologySpreadConstraints":[{"maxSkew":1,"topologyKey":"topology.kubernetes.io/zone","whenUnsatisfiable":"DoNotSchedule","labelSelector":{"matchLabels":{"app.kubernetes.io/name":"\#(app)"}}}]"#
            : ""
        // A third of the StatefulSets keep their data on local volumes of their node.
        let local = stateful && rng.chance(33)
        let hash = String(rng.next() % 0xFFFFFF, radix: 16)
        var used = Set<Int>()
        for r in 0..<replicas where podCount < 150_000 {
            var index = rng.int(nodeCount)
            if constrained {
                repeat { index = 3 * rng.int(nodeCount / 3) + r % 3 } while used.contains(index)
                used.insert(index)
            }
            var node = nodeNames[index]
            if !zonePinned.isEmpty { while !node.isEmpty && Int(node.dropFirst(5).prefix(5))! % 3 != zones.firstIndex(of: String(zonePinned.split(separator: "\"")[5]))! { node = nodeNames[rng.int(nodeCount)] } }
            let name = stateful ? "\(app)-\(r)" : "\(app)-\(hash)-\(String(rng.next() % 0xFFFFF, radix: 36))"
            let labels = #""app.kubernetes.io/name":"\#(app)","app.kubernetes.io/instance":"\#(app)-prod","app.kubernetes.io/part-of":"\#(ns)","tier":"\#(stateful ? "data" : "web")","#
                + (stateful ? #""statefulset.kubernetes.io/pod-name":"\#(name)""# : #""pod-template-hash":"\#(hash)""#)
            var volumes = ""
            if local {
                localVolumes += 1
                let pv = "local-pv-\(String(rng.next() % 0xFFFFFFF, radix: 16))"
                volumes = #","volumes":[{"name":"data","persistentVolumeClaim":{"claimName":"data-\#(name)"}},{"name":"kube-api-access","projected":{"sources":[]}}]"#
                items.append(
                    #"{"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"\#(pv)","uid":"\#(UUID().uuidString.lowercased())"},"#
                        + #""spec":{"capacity":{"storage":"375Gi"},"accessModes":["ReadWriteOnce"],"persistentVolumeReclaimPolicy":"Retain","storageClassName":"local-nvme","#
                        + #""local":{"path":"/mnt/disks/nvme0n1"},"claimRef":{"kind":"PersistentVolumeClaim","namespace":"\#(ns)","name":"data-\#(name)"},"#
                        + #""nodeAffinity":{"required":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"kubernetes.io/hostname","operator":"In","values":["\#(node)"]}]}]}}},"#
                        + #""status":{"phase":"Bound"}}"#)
                items.append(
                    #"{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data-\#(name)","namespace":"\#(ns)","uid":"\#(UUID().uuidString.lowercased())"},"#
                        + #""spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"375Gi"}},"storageClassName":"local-nvme","volumeName":"\#(pv)","volumeMode":"Filesystem"},"#
                        + #""status":{"phase":"Bound","capacity":{"storage":"375Gi"}}}"#)
            }
            if constrained { constrainedPods += 1 }
            pod(ns: ns, name: name, node: node, labels: labels, owner: stateful ? ("StatefulSet", app) : ("ReplicaSet", "\(app)-\(hash)"),
                cpu: cpu, mem: mem, extraSpec: zonePinned + constraints + volumes, ready: !rng.chance(1))
        }
        if budgetCount < budgetsWanted && (stateful || rng.chance(45)) {
            budgetCount += 1
            let bound = stateful ? #""minAvailable":2"# : (rng.chance(50) ? #""maxUnavailable":1"# : #""minAvailable":"50%""#)
            budgetItems.append(
                #"{"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"\#(app)","namespace":"\#(ns)"},"spec":{\#(bound),"selector":{"matchLabels":{"app.kubernetes.io/name":"\#(app)"}}}}"#)
        }
        workload += 1
    }
    flush()
    items = budgetItems
    flush()
    items = []
    let afterBuild = memory()
    print("state: \(state.nodeCount) nodes, \(state.podCount) pods, \(state.budgetCount) budgets, \(state.persistentVolumeCount) PVs, \(state.persistentVolumeClaimCount) PVCs from \(jsonBytes / 1_048_576) MB of JSON")
    print("  \(constrainedPods) pods with required anti-affinity and a DoNotSchedule zone spread, \(localVolumes) on local volumes, node-exporter on host port 9100")
    print(String(format: "build (JSON -> state, merge only, generation excluded): %.0f ms", ms(buildTime)))
    print("memory: VmRSS \(afterBuild.rss) MB after build (\(before.rss) MB at start), VmHWM \(afterBuild.hwm) MB peak (incl. one 5,000-object JSON chunk)")

    // MARK: Entry decisions on random nodes.

    let engine = PolicyEngine()
    let view = StateView.known(state)
    var samples: [Double] = []
    var outcomes: [String: Int] = [:]
    var slow: [String] = []
    for _ in 0..<200 {  // warm-up
        _ = engine.decide(DecisionInput(node: nodeNames[rng.int(nodeCount)], transition: .enter(.plannedDowntime), state: view))
    }
    var cpu: [Double] = []
    for _ in 0..<5000 {
        let node = nodeNames[rng.int(nodeCount)]
        var verdict: Verdict?
        let c0 = threadCPU()
        let d = clock.measure {
            verdict = engine.decide(DecisionInput(node: node, transition: .enter(.plannedDowntime), state: view))
        }
        cpu.append(threadCPU() - c0)
        samples.append(us(d))
        outcomes[verdict!.reason?.rawValue ?? "allowed", default: 0] += 1
        if us(d) > 2000 && slow.count < 3 { slow.append("\(Int(us(d))) µs wall, \(Int(cpu.last!)) µs cpu: " + verdict!.message.prefix(300)) }
    }
    for m in slow { print("  slow: \(m)") }
    samples.sort()
    cpu.sort()
    func pct(_ p: Double) -> Double { samples[min(samples.count - 1, Int(Double(samples.count) * p))] }
    func cpct(_ p: Double) -> Double { cpu[min(cpu.count - 1, Int(Double(cpu.count) * p))] }
    print(String(format: "entry decision (5000 random nodes): p50 %.0f µs, p99 %.0f µs, max %.0f µs", pct(0.5), pct(0.99), samples.last!))
    print(String(format: "  thread CPU time: p50 %.0f µs, p99 %.0f µs, max %.0f µs", cpct(0.5), cpct(0.99), cpu.last!))
    print("  outcomes: \(outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")

    // The same at drain: pods on local volumes cannot leave, so their nodes are refused (NotEnoughResources).
    samples = []
    cpu = []
    outcomes = [:]
    for _ in 0..<2000 {
        let node = nodeNames[rng.int(nodeCount)]
        var verdict: Verdict?
        let c0 = threadCPU()
        let d = clock.measure {
            verdict = engine.decide(DecisionInput(node: node, transition: .enter(.drain), state: view))
        }
        cpu.append(threadCPU() - c0)
        samples.append(us(d))
        outcomes[verdict!.reason?.rawValue ?? "allowed", default: 0] += 1
    }
    samples.sort()
    cpu.sort()
    print(String(format: "entry decision at drain (2000 random nodes): p50 %.0f µs, p99 %.0f µs, max %.0f µs", pct(0.5), pct(0.99), samples.last!))
    print(String(format: "  thread CPU time: p50 %.0f µs, p99 %.0f µs, max %.0f µs", cpct(0.5), cpct(0.99), cpu.last!))
    print("  outcomes: \(outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")

    // Same with a failure-domain label and a node already in maintenance (rule 4 scans every node).
    let zoned = PolicyEngine(config: try! PolicyConfig.load(yaml: "failureDomainLabel: topology.kubernetes.io/zone\nmaxNodesInMaintenance: 2"))
    samples = []
    for _ in 0..<2000 {
        let node = nodeNames[rng.int(nodeCount)]
        let d = clock.measure {
            _ = zoned.decide(DecisionInput(node: node, transition: .enter(.drain), state: view, pendingEntries: [nodeNames[0]]))
        }
        samples.append(us(d))
    }
    samples.sort()
    print(String(format: "entry decision, zones + pending entry: p50 %.0f µs, p99 %.0f µs", pct(0.5), pct(0.99)))

    // MARK: Non-entry updates: classify the taints, then decide (rule 1).

    let taints = [Taint(key: "nvidia.com/gpu", value: "present", effect: "NoSchedule")]
    let keys = engine.config.taintKeys
    let iterations = 1_000_000
    var allowed = 0
    let nonEntry = clock.measure {
        for i in 0..<iterations {
            let t = Transition.classify(old: taints, new: taints, taintKeys: keys)
            let v = engine.decide(DecisionInput(node: nodeNames[i % nodeCount], transition: t, state: view))
            if v.allowed { allowed += 1 }
        }
    }
    print(String(format: "non-entry update (classify + decide): %.3f µs per call over %d calls", us(nonEntry) / Double(iterations), allowed))

    // MARK: check rendering and a plan over a slice are not part of the targets; report the memory at the end.
    planBenchmark(state: state)  // PlanBenchmark.swift
    let end = memory()
    print("memory at end: VmRSS \(end.rss) MB, VmHWM \(end.hwm) MB")
}

run()
