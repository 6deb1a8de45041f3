import TMMPolicy
import Testing

/// Where one pod leaving n1 may go, filter by filter; `placed` is the node it must land on when given.
struct FilterRow: Sendable, CustomTestStringConvertible {
    var name: String
    var state: String
    var level = MaintenanceLevel.plannedDowntime
    /// `allow` or a ``FailureReason`` raw value.
    var expect: String
    /// The node of the first placement, when allowed.
    var placed: String?
    /// Substrings the message must contain.
    var contains: [String] = []

    var testDescription: String { name }
}

private let zoneKey = "topology.kubernetes.io/zone"

private let rows: [FilterRow] = [
    // NodeResourcesFit: ephemeral storage and extended resources.
    FilterRow(name: "ephemeral storage short", state: "node n1; node n2 eph=1Gi; pod app/p n1 eph=2Gi", expect: "NotEnoughResources",
              contains: ["app/p: needs ephemeral-storage 2Gi, at most 1Gi free on n2"]),
    FilterRow(name: "ephemeral storage fits", state: "node n1; node n2 eph=4Gi; pod app/q n2 eph=1Gi; pod app/p n1 eph=2Gi", expect: "allow", placed: "n2"),
    FilterRow(name: "no ephemeral storage asked, none reported", state: "node n1; node n2; pod app/p n1", expect: "allow", placed: "n2"),
    FilterRow(name: "gpu on no other node", state: "node n1 res=nvidia.com/gpu=1; node n2; pod app/p n1 res=nvidia.com/gpu=1",
              expect: "NotEnoughResources", contains: ["nvidia.com/gpu 1, at most 0 free on n2"]),
    FilterRow(name: "gpu free on n3", state: "node n1; node n2; node n3 res=nvidia.com/gpu=2; pod app/q n3 res=nvidia.com/gpu=1; pod app/p n1 res=nvidia.com/gpu=1",
              expect: "allow", placed: "n3"),
    FilterRow(name: "gpu all used", state: "node n1; node n2 res=nvidia.com/gpu=1; pod app/q n2 res=nvidia.com/gpu=1; pod app/p n1 res=nvidia.com/gpu=1",
              expect: "NotEnoughResources", contains: ["nvidia.com/gpu 1, at most 0 free"]),
    FilterRow(name: "a finished pod's gpu is free", state: "node n1; node n2 res=nvidia.com/gpu=1; pod app/q n2 res=nvidia.com/gpu=1 phase=Succeeded; pod app/p n1 res=nvidia.com/gpu=1",
              expect: "allow", placed: "n2"),
    FilterRow(name: "gpu placed earlier counts", state: "node n1; node n2 res=nvidia.com/gpu=1; pod app/a n1 res=nvidia.com/gpu=1; pod app/b n1 res=nvidia.com/gpu=1",
              expect: "NotEnoughResources", contains: ["app/b: needs nvidia.com/gpu 1, at most 0 free on n2"]),
    // TaintToleration and NodeAffinity name themselves.
    FilterRow(name: "taint named", state: "node n1; node n2 taint=gpu=yes:NoSchedule; node n3 taint=gpu=yes:NoSchedule; pod app/p n1",
              expect: "NotEnoughResources", contains: ["untolerated taint gpu=yes:NoSchedule on n2 and n3"]),
    FilterRow(name: "selector named", state: "node n1; node n2; pod app/p n1 sel=disk=ssd", expect: "NotEnoughResources",
              contains: ["nodeSelector or required node affinity not matched on n2"]),
    FilterRow(name: "kinds of nodes apart", state: "node n1; node n2 cordoned; node n3 taint=a=b:NoExecute; node n4 cpu=0; pod app/p n1",
              expect: "NotEnoughResources", contains: ["cordoned on n2; untolerated taint a=b:NoExecute on n3; needs cpu 100m, at most 0 free on n4"]),
    FilterRow(name: "many nodes are counted, not listed", state: (2...9).map { "node n\($0) cpu=0" }.joined(separator: ";") + "; node n1; pod app/p n1",
              expect: "NotEnoughResources", contains: ["on 8 nodes (n2, n3, n4, …)"]),
    // NodePorts.
    FilterRow(name: "host port taken", state: "node n1; node n2; pod mon/a n1 port=9100; pod mon/b n2 port=9100", expect: "NotEnoughResources",
              contains: ["host port 9100/TCP held by mon/b on n2"]),
    FilterRow(name: "same port, other protocol", state: "node n1; node n2; pod mon/a n1 port=9100; pod mon/b n2 port=9100/UDP", expect: "allow"),
    FilterRow(name: "same port, other addresses", state: "node n1; node n2; pod mon/a n1 port=10.0.0.1:9100; pod mon/b n2 port=10.0.0.2:9100", expect: "allow"),
    FilterRow(name: "same port, same address", state: "node n1; node n2; pod mon/a n1 port=10.0.0.1:9100; pod mon/b n2 port=10.0.0.1:9100",
              expect: "NotEnoughResources"),
    FilterRow(name: "every address against one", state: "node n1; node n2; pod mon/a n1 port=9100; pod mon/b n2 port=10.0.0.2:9100",
              expect: "NotEnoughResources"),
    FilterRow(name: "a finished pod holds no port", state: "node n1; node n2; pod mon/a n1 port=9100; pod mon/b n2 port=9100 phase=Failed", expect: "allow"),
    FilterRow(name: "port placed earlier counts", state: "node n1; node n2; pod mon/a n1 port=9100; pod mon/b n1 port=9100", expect: "NotEnoughResources",
              contains: ["mon/b: host port 9100/TCP held by mon/a on n2"]),
    // InterPodAffinity: the mover's anti-affinity.
    FilterRow(name: "anti-affinity per zone, zone emptied by the entry", state: "node n1 zone=a; node n2 zone=a; node n3 zone=b; set x/x n1,n3 app=x anti=zone:app=x",
              expect: "allow", placed: "n2"),
    FilterRow(name: "anti-affinity per zone, other zone taken", state: "node n1 zone=a; node n2 zone=b; node n3 zone=b; set x/x n1,n3 app=x anti=zone:app=x",
              expect: "NotEnoughResources", contains: ["x/x-0: required anti-affinity with x/x-1 on n2 and n3"]),
    FilterRow(name: "anti-affinity on a key the node lacks", state: "node n1; node n2; set x/x n1,n2 app=x anti=rack:app=x", expect: "allow"),
    FilterRow(name: "anti-affinity looks in its own namespace", state: "node n1; node n2; pod x/a n1 app=x anti=kubernetes.io/hostname:app=x; pod y/b n2 app=x",
              expect: "allow"),
    FilterRow(name: "anti-affinity placed earlier counts", state: "node n1; node n2; node n3; set x/x n1,n1 app=x anti=kubernetes.io/hostname:app=x", expect: "allow"),
    FilterRow(name: "anti-affinity placed earlier counts, one node", state: "node n1; node n2; set x/x n1,n1 app=x anti=kubernetes.io/hostname:app=x",
              expect: "NotEnoughResources", contains: ["required anti-affinity with x/x-"]),
    // InterPodAffinity: other pods' anti-affinity against the mover.
    FilterRow(name: "repelled by an existing pod", state: "node n1; node n2; pod a/y n1 app=y; pod a/z n2 anti=kubernetes.io/hostname:app=y",
              expect: "NotEnoughResources", contains: ["a/y: required anti-affinity of a/z on n2"]),
    FilterRow(name: "not repelled from another namespace", state: "node n1; node n2; pod a/y n1 app=y; pod b/z n2 anti=kubernetes.io/hostname:app=y", expect: "allow"),
    FilterRow(name: "repelled per zone", state: "node n1 zone=a; node n2 zone=b; node n3 zone=b; node n4 zone=c; pod a/y n1 app=y; pod a/z n2 anti=zone:app=y",
              expect: "allow", placed: "n4"),
    // InterPodAffinity: the mover's affinity.
    FilterRow(name: "affinity follows its peer", state: "node n1; node n2; node n3; pod c/cache n3 app=cache; pod c/web n1 podaff=kubernetes.io/hostname:app=cache",
              expect: "allow", placed: "n3"),
    FilterRow(name: "affinity per zone", state: "node n1 zone=a; node n2 zone=b; node n3 zone=b; pod c/cache n3 app=cache cpu=4; pod c/web n1 podaff=zone:app=cache",
              expect: "allow", placed: "n2"),
    FilterRow(name: "affinity with no peer anywhere", state: "node n1; node n2; pod c/web n1 podaff=kubernetes.io/hostname:app=cache",
              expect: "NotEnoughResources", contains: ["c/web: required pod affinity (app=cache per kubernetes.io/hostname) on n2"]),
    FilterRow(name: "affinity satisfied by itself when no pod matches", state: "node n1; node n2; pod c/web n1 app=cache podaff=kubernetes.io/hostname:app=cache",
              expect: "allow", placed: "n2"),
    FilterRow(name: "affinity on a key no node has", state: "node n1; node n2; pod c/cache n2 app=cache; pod c/web n1 podaff=rack:app=cache",
              expect: "NotEnoughResources"),
    // PodTopologySpread.
    FilterRow(name: "hostname spread: the emptied node is the minimum", state: "node n1; node n2; node n3; set w/w n1,n2,n3 app=w spread=kubernetes.io/hostname:1:app=w",
              expect: "NotEnoughResources", contains: ["topology spread constraint (kubernetes.io/hostname, maxSkew 1) on n2 and n3"]),
    FilterRow(name: "hostname spread honouring taints skips the node in maintenance", state: "node n1; node n2; node n3; set w/w n1,n2,n3 app=w spreadhonor=kubernetes.io/hostname:1:app=w",
              expect: "allow"),
    FilterRow(name: "ScheduleAnyway does not filter", state: "node n1 \(zoneKey)=a; node n2 \(zoneKey)=b; set w/w n1,n2 app=w spreadany=\(zoneKey):1:app=w", expect: "allow"),
    FilterRow(name: "spread to the emptiest zone", state: """
        node n1 \(zoneKey)=a; node n2 \(zoneKey)=b; node n3 \(zoneKey)=c; node n4 \(zoneKey)=b; node n5 \(zoneKey)=c; node n6 \(zoneKey)=a;
        set w/w n1,n1,n2,n3 app=w spread=\(zoneKey):1:app=w
        """, expect: "allow", placed: "n6"),
    FilterRow(name: "spread: the target alone in its zone holds the minimum at 0", state: """
        node n1 \(zoneKey)=a; node n2 \(zoneKey)=b; node n3 \(zoneKey)=c; node n4 \(zoneKey)=b; node n5 \(zoneKey)=c;
        set w/w n1,n1,n2,n3 app=w spread=\(zoneKey):1:app=w
        """, expect: "NotEnoughResources"),
    FilterRow(name: "spread: a node without the key is refused", state: "node n1 \(zoneKey)=a; node n2; set w/w n1 app=w spread=\(zoneKey):1:app=w",
              expect: "NotEnoughResources", contains: ["topology spread constraint"]),
    FilterRow(name: "spread counts only nodes the pod may use", state: """
        node n1 \(zoneKey)=a disk=ssd; node n2 \(zoneKey)=b disk=ssd; node n3 \(zoneKey)=c;
        set w/w n1,n3 app=w sel=disk=ssd spread=\(zoneKey):1:app=w
        """, expect: "allow", placed: "n2"),
    // VolumeBinding: node affinity of a bound volume.
    FilterRow(name: "zonal volume goes to its zone", state: """
        node n1 \(zoneKey)=a; node n2 \(zoneKey)=b; node n3 \(zoneKey)=a;
        pod s/db n1 pvc=data; pvc s/data pv-a; pv pv-a \(zoneKey)=a
        """, expect: "allow", placed: "n3"),
    FilterRow(name: "zonal volume, its zone full", state: """
        node n1 \(zoneKey)=a; node n2 \(zoneKey)=b; node n3 \(zoneKey)=a cpu=0;
        pod s/db n1 pvc=data; pvc s/data pv-a; pv pv-a \(zoneKey)=a
        """, expect: "NotEnoughResources", contains: ["needs cpu 100m, at most 0 free on n3", "node affinity of volume pv-a on n2"]),
    FilterRow(name: "zonal volume, its zone full, drain", state: """
        node n1 \(zoneKey)=a; node n2 \(zoneKey)=b; node n3 \(zoneKey)=a cpu=0;
        pod s/db n1 pvc=data; pvc s/data pv-a; pv pv-a \(zoneKey)=a
        """, level: .drain, expect: "NotEnoughResources", contains: ["node affinity of volume pv-a on n2"]),
    FilterRow(name: "unbound claim restricts nothing", state: "node n1; node n2; pod s/db n1 pvc=data; pvc s/data; pv pv-a kubernetes.io/hostname=n1",
              expect: "allow", placed: "n2"),
    FilterRow(name: "missing volume restricts nothing", state: "node n1; node n2; pod s/db n1 pvc=data; pvc s/data pv-gone", expect: "allow", placed: "n2"),
    FilterRow(name: "pinned volume waits at planned-downtime", state: "node n1; node n2; pod s/db n1 pvc=data; pvc s/data pv-1; pv pv-1 kubernetes.io/hostname=n1",
              expect: "allow", contains: ["wait for the node's local volumes"]),
    FilterRow(name: "pinned volume at drain", state: "node n1; node n2; pod s/db n1 pvc=data; pvc s/data pv-1; pv pv-1 kubernetes.io/hostname=n1",
              level: .drain, expect: "NotEnoughResources", contains: ["s/db: volume pv-1 (claim s/data) is local to n1"]),
]

@Suite struct SchedulerFilterTests {
    @Test(arguments: rows)
    func filters(_ row: FilterRow) throws {
        let v = PolicyEngine().decide(
            DecisionInput(node: "n1", transition: .enter(row.level), state: .known(Scenario.state(row.state))))
        if row.expect == "allow" {
            #expect(v.allowed, "\(v.message)")
        } else {
            #expect(v.reason == FailureReason(rawValue: row.expect), "\(v.message)")
        }
        if let placed = row.placed { #expect(v.findings.placements.first?.node == placed, "\(v.findings.placements)") }
        for text in row.contains { #expect(v.message.contains(text), "\(v.message)") }
    }

    /// Anti-affinity terms reach other namespaces by `namespaces` or `namespaceSelector` (matched on
    /// `kubernetes.io/metadata.name`; `{}` is every namespace).
    @Test(arguments: [
        (PodAffinityTerm(labelSelector: LabelSelector(matchLabels: ["app": "y"]), topologyKey: "kubernetes.io/hostname"), true),
        (PodAffinityTerm(labelSelector: LabelSelector(matchLabels: ["app": "y"]), namespaces: ["a"], topologyKey: "kubernetes.io/hostname"), false),
        (PodAffinityTerm(labelSelector: LabelSelector(matchLabels: ["app": "y"]), namespaceSelector: .everything, topologyKey: "kubernetes.io/hostname"), false),
        (PodAffinityTerm(labelSelector: LabelSelector(matchLabels: ["app": "y"]), namespaceSelector: LabelSelector(matchLabels: ["kubernetes.io/metadata.name": "a"]), topologyKey: "kubernetes.io/hostname"), false),
        (PodAffinityTerm(labelSelector: LabelSelector(matchLabels: ["app": "y"]), namespaceSelector: LabelSelector(matchLabels: ["team": "a"]), topologyKey: "kubernetes.io/hostname"), true),
        (PodAffinityTerm(labelSelector: nil, namespaceSelector: .everything, topologyKey: "kubernetes.io/hostname"), true),
    ])
    func antiAffinityAcrossNamespaces(term: PodAffinityTerm, allowed: Bool) {
        var state = Scenario.state("node n1; node n2; pod a/y n1 app=y")
        state.upsert(pod: Pod(namespace: "b", name: "z", nodeName: "n2", podAntiAffinity: [term]))
        let v = PolicyEngine().decide(DecisionInput(node: "n1", transition: .enter(.plannedDowntime), state: .known(state)))
        #expect(v.allowed == allowed, "\(v.message)")
        if !allowed { #expect(v.message.contains("a/y: required anti-affinity of b/z on n2")) }
    }
}
