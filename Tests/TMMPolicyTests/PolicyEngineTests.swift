import TMMPolicy
import Testing

/// One situation: a state, an update, a policy, and what the engine must say.
struct EngineRow: Sendable, CustomTestStringConvertible {
    var name: String
    /// ``Scenario`` text, or `UNKNOWN` for an unknown state.
    var state: String
    var node = "n1"
    var transition = Transition.enter(.plannedDowntime)
    var config = ""
    var pending: Set<String> = []
    /// `allow` or a ``FailureReason`` raw value.
    var expect: String
    /// Comma-separated `ns/name` the verdict must relate, when given.
    var related: String?
    /// Substrings the message must contain.
    var contains: [String] = []

    var testDescription: String { name }
}

private let two = "node n1; node n2"
private let three = "node n1; node n2; node n3"
private let etcd = "node n1; node n2; node n3; set kv/etcd n1,n2,n3 app=etcd"
private let zones = "node n1 zone=a; node n2 zone=a; node n3 zone=b; node n4 zone=c; pod app/p n1"
private let fit = "node n1; node n2 cpu=2; pod app/p n1 cpu=1500m"

private let rows: [EngineRow] = [
    // Rule 1: not an entry, or already in maintenance.
    EngineRow(name: "label update allowed even without state", state: "UNKNOWN", transition: .none, expect: "allow"),
    EngineRow(name: "exit allowed even without state", state: "UNKNOWN", transition: .exit, expect: "allow"),
    EngineRow(name: "re-entry of a node already tainted is idempotent", state: "node n1 maint; node n2 maint", expect: "allow",
              contains: ["already in maintenance"]),
    EngineRow(name: "escalation of a node already at drain", state: "node n1 maint=drain; node n2 maint", transition: .escalate(.drain), expect: "allow"),
    EngineRow(name: "entry at planned-downtime of a drained node", state: "node n1 maint=drain; node n2 maint", expect: "allow"),
    // Rule 2: unknown state.
    EngineRow(name: "unknown state denies (failClosed)", state: "UNKNOWN", expect: "GenericFailure", contains: ["GenericFailure: "]),
    EngineRow(name: "unknown state allows when failClosed is false", state: "UNKNOWN", config: "failClosed: false", expect: "allow"),
    EngineRow(name: "node missing from the state", state: "node n2", expect: "GenericFailure", contains: ["not in the cluster state"]),
    EngineRow(name: "unknown state wins over concurrency", state: "UNKNOWN", pending: ["n2", "n3"], expect: "GenericFailure"),
    // Rule 3: concurrency.
    EngineRow(name: "another node in maintenance", state: "node n1; node n2 maint; pod app/p n1", expect: "TooManyExistingFailures",
              related: "app/p", contains: ["n2", "maxNodesInMaintenance is 1"]),
    EngineRow(name: "another node in maintenance, max 2", state: "node n1; node n2 maint; node n3", config: "maxNodesInMaintenance: 2", expect: "allow"),
    EngineRow(name: "two others in maintenance, max 2", state: "node n1; node n2 maint; node n3 maint=drain", config: "maxNodesInMaintenance: 2",
              expect: "TooManyExistingFailures"),
    EngineRow(name: "a pending entry counts", state: three, pending: ["n2"], expect: "TooManyExistingFailures", contains: ["n2"]),
    EngineRow(name: "own pending entry (apiserver retry) does not count", state: three, pending: ["n1"], expect: "allow"),
    EngineRow(name: "maintenance taint under another key counts", state: "node n1; node n2 taint=node.dell.com/drain=drain:NoSchedule",
              expect: "TooManyExistingFailures"),
    EngineRow(name: "taint key not configured does not count", state: "node n1; node n2 taint=other/drain=drain:NoSchedule", expect: "allow"),
    EngineRow(name: "a NoExecute maintenance taint counts", state: "node n1; node n2 taint=drain=planned-downtime:NoExecute",
              expect: "TooManyExistingFailures", contains: ["n2"]),
    EngineRow(name: "a PreferNoSchedule maintenance taint does not count", state: "node n1; node n2 taint=drain=drain:PreferNoSchedule",
              expect: "allow"),
    EngineRow(name: "a NoExecute entry is reviewed", state: "node n1; node n2 maint", transition: .enter(.evict),
              expect: "TooManyExistingFailures"),
    EngineRow(name: "escalation from drain to NoExecute is reviewed", state: "node n1 maint=drain; node n2 maint", transition: .escalate(.evict),
              expect: "TooManyExistingFailures"),
    EngineRow(name: "NoExecute entry of a node already NoExecute is idempotent",
              state: "node n1 taint=drain=drain:NoExecute; node n2 maint", transition: .enter(.evict), expect: "allow",
              contains: ["already in maintenance"]),
    EngineRow(name: "escalation with another node in maintenance", state: "node n1 maint; node n2 maint; node n3", transition: .escalate(.drain),
              expect: "TooManyExistingFailures"),
    EngineRow(name: "escalation alone passes", state: "node n1 maint; node n2; pod app/p n1", transition: .escalate(.drain), expect: "allow"),
    // Rule 4: failure domains.
    EngineRow(name: "other zone has a down node", state: zones + "; node n5 zone=b notready", config: "failureDomainLabel: zone",
              expect: "TooManyExistingFailures", related: "app/p", contains: ["n5 in b"]),
    EngineRow(name: "same zone has a down node", state: zones + "; node n5 zone=a notready", config: "failureDomainLabel: zone\nmaxNodesInMaintenance: 3",
              expect: "allow"),
    EngineRow(name: "other zone down but no domain label configured", state: zones + "; node n5 zone=b notready", expect: "allow"),
    EngineRow(name: "unreachable taint makes a node down", state: zones + "; node n5 zone=c unreachable", config: "failureDomainLabel: zone",
              expect: "TooManyExistingFailures"),
    EngineRow(name: "pending entry in another zone", state: zones, config: "failureDomainLabel: zone\nmaxNodesInMaintenance: 2", pending: ["n3"],
              expect: "TooManyExistingFailures", contains: ["n3 in b"]),
    EngineRow(name: "pending entry in the same zone", state: zones, config: "failureDomainLabel: zone\nmaxNodesInMaintenance: 2", pending: ["n2"],
              expect: "allow"),
    // Rule 5: quorum.
    EngineRow(name: "etcd 3 ready, minAvailable 2", state: etcd + "; pdb kv/etcd app=etcd min=2", expect: "allow"),
    EngineRow(name: "etcd replica elsewhere unready", state: etcd + " ; pod kv/etcd-1 n2 app=etcd unready; pdb kv/etcd app=etcd min=2",
              expect: "TooManyExistingFailures", related: "kv/etcd-0", contains: ["kv/etcd would have 1 healthy of 2 required"]),
    EngineRow(name: "replica on a not-ready node", state: "node n1; node n2 notready; node n3; set kv/etcd n1,n2,n3 app=etcd; pdb kv/etcd app=etcd min=2",
              expect: "TooManyExistingFailures"),
    EngineRow(name: "replica on a node in maintenance (max 2)", state: "node n1; node n2 maint; node n3; set kv/etcd n1,n2,n3 app=etcd; pdb kv/etcd app=etcd min=2",
              config: "maxNodesInMaintenance: 2", expect: "TooManyExistingFailures", related: "kv/etcd-0"),
    EngineRow(name: "replica on an unreachable node", state: "node n1; node n2 unreachable; node n3; set kv/etcd n1,n2,n3 app=etcd; pdb kv/etcd app=etcd min=2",
              expect: "TooManyExistingFailures"),
    EngineRow(name: "unscheduled replica is not healthy", state: "node n1; node n2; set kv/etcd n1,n2 app=etcd; pod kv/etcd-2 - app=etcd unready; pdb kv/etcd app=etcd min=2",
              expect: "TooManyExistingFailures"),
    EngineRow(name: "minAvailable 50% of 3 rounds up to 2", state: etcd + "; pod kv/etcd-1 n2 app=etcd unready; pdb kv/etcd app=etcd min=50%",
              expect: "TooManyExistingFailures", contains: ["1 healthy of 2 required"]),
    EngineRow(name: "minAvailable 33% of 3 rounds up to 1", state: etcd + "; pod kv/etcd-1 n2 app=etcd unready; pdb kv/etcd app=etcd min=33%",
              expect: "allow"),
    EngineRow(name: "minAvailable 100% denies any entry", state: etcd + "; pdb kv/etcd app=etcd min=100%", expect: "TooManyExistingFailures"),
    EngineRow(name: "maxUnavailable 1, all ready", state: etcd + "; pdb kv/etcd app=etcd max=1", expect: "allow"),
    EngineRow(name: "maxUnavailable 1, one unready", state: etcd + "; pod kv/etcd-2 n3 app=etcd unready; pdb kv/etcd app=etcd max=1",
              expect: "TooManyExistingFailures"),
    EngineRow(name: "maxUnavailable 10% of 3 rounds up to 1", state: etcd + "; pdb kv/etcd app=etcd max=10%", expect: "allow"),
    EngineRow(name: "maxUnavailable 50% of 3 rounds up to 2", state: etcd + "; pod kv/etcd-2 n3 app=etcd unready; pdb kv/etcd app=etcd max=50%",
              expect: "allow"),
    EngineRow(name: "maxUnavailable 0 denies", state: etcd + "; pdb kv/etcd app=etcd max=0", expect: "TooManyExistingFailures"),
    EngineRow(name: "several budgets on one pod, one failing", state: etcd + "; pod kv/etcd-0 n1 app=etcd role=leader; pdb kv/all app=etcd min=1; pdb kv/leader role=leader min=1",
              expect: "TooManyExistingFailures", related: "kv/etcd-0", contains: ["kv/leader would have 0 healthy of 1"]),
    EngineRow(name: "several budgets on one pod, all keep quorum", state: etcd + "; pdb kv/a app=etcd min=2; pdb kv/b app=etcd,role!=x max=1",
              expect: "allow"),
    EngineRow(name: "budget in another namespace does not apply", state: etcd + "; pdb other/etcd app=etcd min=3", expect: "allow"),
    EngineRow(name: "failed pods are not expected", state: etcd + "; pod kv/etcd-3 n3 app=etcd phase=Failed unready; pdb kv/etcd app=etcd max=1",
              expect: "allow"),
    EngineRow(name: "only covered pods are related", state: etcd + "; pod kv/other n1; pod kv/etcd-1 n2 app=etcd unready; pdb kv/etcd app=etcd min=2",
              expect: "TooManyExistingFailures", related: "kv/etcd-0"),
    EngineRow(name: "budget without selector selects nothing", state: etcd + "; pdb kv/x none min=3", expect: "allow"),
    EngineRow(name: "budget with empty selector selects the namespace", state: etcd + "; pdb kv/x {} min=3", expect: "TooManyExistingFailures"),
    EngineRow(name: "budget with NotIn selector", state: etcd + "; pdb kv/x app!=web min=3", expect: "TooManyExistingFailures"),
    // Scope: DaemonSet, mirror, terminal pods, podSelector.
    EngineRow(name: "control: a normal pod is checked", state: "\(two); pod k/x-1 n1 app=x; pod k/x-2 n2 app=x; pdb k/x app=x min=2",
              expect: "TooManyExistingFailures"),
    EngineRow(name: "DaemonSet pod is out of scope", state: "\(two); pod k/x-1 n1 app=x ds; pod k/x-2 n2 app=x ds; pdb k/x app=x min=2",
              expect: "allow", related: ""),
    EngineRow(name: "mirror pod is out of scope", state: "\(two); pod k/x-1 n1 app=x mirror; pod k/x-2 n2 app=x; pdb k/x app=x min=2",
              expect: "allow"),
    EngineRow(name: "succeeded pod is out of scope", state: "\(two); pod k/x-1 n1 app=x phase=Succeeded; pod k/x-2 n2 app=x; pdb k/x app=x min=2",
              expect: "allow"),
    EngineRow(name: "podSelector leaves the pod out", state: etcd + "; pod kv/etcd-1 n2 app=etcd unready; pdb kv/etcd app=etcd min=2",
              config: "podSelector: tier=critical", expect: "allow"),
    EngineRow(name: "podSelector keeps the pod", state: etcd + "; pod kv/etcd-1 n2 app=etcd unready; pdb kv/etcd app=etcd min=2",
              config: "podSelector: app in (etcd)", expect: "TooManyExistingFailures"),
    EngineRow(name: "allowed verdict relates every in-scope pod", state: "\(two); pod a/p n1; pod a/q n1 ds; pod b/r n1", expect: "allow", related: "a/p,b/r"),
    // Rule 6: capacity.
    EngineRow(name: "pod fits elsewhere", state: fit, expect: "allow"),
    EngineRow(name: "not enough cpu", state: fit + "; pod app/q n2 cpu=1", expect: "NotEnoughResources", related: "app/p",
              contains: ["cpu 1500m, at most 1 free"]),
    EngineRow(name: "not enough memory", state: "node n1; node n2 mem=1Gi; pod app/p n1 mem=2Gi", expect: "NotEnoughResources",
              contains: ["memory 2Gi"]),
    EngineRow(name: "no pod slot", state: "node n1; node n2 pods=1; pod app/p n1; pod app/q n2", expect: "NotEnoughResources",
              contains: ["pod slot"]),
    EngineRow(name: "terminal pods hold no resources", state: fit + "; pod app/done n2 cpu=2 phase=Succeeded", expect: "allow"),
    EngineRow(name: "only other node is cordoned", state: "node n1; node n2 cordoned; pod app/p n1", expect: "NotEnoughResources"),
    EngineRow(name: "only other node is not ready", state: "node n1; node n2 notready; pod app/p n1", expect: "NotEnoughResources"),
    EngineRow(name: "only other node is in maintenance", state: "node n1; node n2 maint; pod app/p n1", config: "maxNodesInMaintenance: 2",
              expect: "NotEnoughResources"),
    EngineRow(name: "only other node has a pending entry", state: "node n1; node n2; pod app/p n1", config: "maxNodesInMaintenance: 2",
              pending: ["n2"], expect: "NotEnoughResources"),
    EngineRow(name: "cordoned target is fine", state: "node n1 cordoned; node n2; pod app/p n1", expect: "allow"),
    EngineRow(name: "tainted target is fine", state: "node n1 taint=gpu=yes:NoSchedule; node n2; pod app/p n1 tol=gpu:Equal:yes:NoSchedule", expect: "allow"),
    EngineRow(name: "untolerated NoSchedule taint", state: "node n1; node n2 taint=gpu=yes:NoSchedule; pod app/p n1", expect: "NotEnoughResources",
              contains: ["app/p: untolerated taint gpu=yes:NoSchedule on n2"]),
    EngineRow(name: "untolerated NoExecute taint", state: "node n1; node n2 taint=gpu=yes:NoExecute; pod app/p n1", expect: "NotEnoughResources"),
    EngineRow(name: "PreferNoSchedule does not repel", state: "node n1; node n2 taint=gpu=yes:PreferNoSchedule; pod app/p n1", expect: "allow"),
    EngineRow(name: "toleration Equal matches", state: "node n1; node n2 taint=gpu=yes:NoSchedule; pod app/p n1 tol=gpu:Equal:yes:NoSchedule", expect: "allow"),
    EngineRow(name: "toleration Equal, other value", state: "node n1; node n2 taint=gpu=yes:NoSchedule; pod app/p n1 tol=gpu:Equal:no:NoSchedule",
              expect: "NotEnoughResources"),
    EngineRow(name: "toleration Exists on the key", state: "node n1; node n2 taint=gpu=yes:NoSchedule; pod app/p n1 tol=gpu:Exists::", expect: "allow"),
    EngineRow(name: "empty key with Exists tolerates all", state: "node n1; node n2 taint=a=b:NoSchedule taint=c:NoExecute; pod app/p n1 tol=:Exists::",
              expect: "allow"),
    EngineRow(name: "toleration for another effect", state: "node n1; node n2 taint=gpu=yes:NoSchedule; pod app/p n1 tol=gpu:Exists::NoExecute",
              expect: "NotEnoughResources"),
    EngineRow(name: "nodeSelector matches", state: "node n1; node n2 disk=ssd; pod app/p n1 sel=disk=ssd", expect: "allow"),
    EngineRow(name: "nodeSelector does not match", state: "node n1; node n2 disk=hdd; pod app/p n1 sel=disk=ssd", expect: "NotEnoughResources"),
    EngineRow(name: "affinity In", state: "node n1; node n2 zone=b; pod app/p n1 aff=zone:In:a|b", expect: "allow"),
    EngineRow(name: "affinity NotIn", state: "node n1; node n2 zone=b; pod app/p n1 aff=zone:NotIn:b", expect: "NotEnoughResources"),
    EngineRow(name: "affinity Exists", state: "node n1; node n2 gpu=1; pod app/p n1 aff=gpu:Exists", expect: "allow"),
    EngineRow(name: "affinity DoesNotExist", state: "node n1; node n2 gpu=1; pod app/p n1 aff=gpu:DoesNotExist", expect: "NotEnoughResources"),
    EngineRow(name: "affinity Gt", state: "node n1; node n2 cores=8; pod app/p n1 aff=cores:Gt:4", expect: "allow"),
    EngineRow(name: "affinity Gt fails", state: "node n1; node n2 cores=4; pod app/p n1 aff=cores:Gt:4", expect: "NotEnoughResources"),
    EngineRow(name: "affinity Lt", state: "node n1; node n2 cores=2; pod app/p n1 aff=cores:Lt:4", expect: "allow"),
    EngineRow(name: "first fit decreasing places the big pod first",
              state: "node n1; node n2 cpu=3; node n3 cpu=2; pod app/a n1 cpu=2; pod app/b n1 cpu=3", expect: "allow"),
    EngineRow(name: "two pods that do not both fit", state: "node n1; node n2 cpu=3; pod app/a n1 cpu=2; pod app/b n1 cpu=2",
              expect: "NotEnoughResources", related: "app/b"),
    EngineRow(name: "DaemonSet pods are not moved", state: "node n1; node n2 cpu=1; pod app/p n1 cpu=3 ds", expect: "allow"),
    // Order between rules; all findings in the message.
    EngineRow(name: "concurrency before quorum", state: etcd + "; node n4 maint; pod kv/etcd-1 n2 app=etcd unready; pdb kv/etcd app=etcd min=2",
              expect: "TooManyExistingFailures", related: "kv/etcd-0", contains: ["maxNodesInMaintenance", "kv/etcd would have"]),
    EngineRow(name: "quorum before capacity", state: "node n1; node n2 cpu=1; set k/x n1,n2 app=x cpu=900m; pdb k/x app=x min=2",
              expect: "TooManyExistingFailures", contains: ["k/x would have 1 healthy of 2", "fit on no other node"]),
    EngineRow(name: "domain before capacity", state: "node n1 zone=a; node n2 zone=b notready; pod app/p n1", config: "failureDomainLabel: zone",
              expect: "TooManyExistingFailures", contains: ["failure domain", "fit on no other node"]),
    EngineRow(name: "quorum check can be turned off", state: etcd + "; pod kv/etcd-1 n2 app=etcd unready; pdb kv/etcd app=etcd min=2",
              config: "checks: {quorum: false}", expect: "allow"),
    EngineRow(name: "capacity check can be turned off", state: fit + "; pod app/q n2 cpu=1", config: "checks:\n  capacity: false", expect: "allow"),
    EngineRow(name: "mode does not change the verdict", state: "node n1; node n2 maint", config: "mode: audit", expect: "TooManyExistingFailures"),
]

@Suite struct PolicyEngineTests {
    static func run(_ row: EngineRow) throws -> Verdict {
        let config = try PolicyConfig.load(yaml: row.config)
        let view: StateView = row.state == "UNKNOWN" ? .unknown(reason: "not synced") : .known(Scenario.state(row.state))
        let input = DecisionInput(node: row.node, transition: row.transition, state: view, pendingEntries: row.pending)
        return PolicyEngine(config: config).decide(input)
    }

    @Test(arguments: rows)
    func decides(_ row: EngineRow) throws {
        let verdict = try Self.run(row)
        if row.expect == "allow" {
            #expect(verdict.allowed, "\(verdict.message)")
            #expect(verdict.reason == nil)
            #expect(verdict.message.hasPrefix("Allowed: "))
        } else {
            let reason = try #require(FailureReason(rawValue: row.expect))
            #expect(!verdict.allowed)
            #expect(verdict.reason == reason, "\(verdict.message)")
            #expect(verdict.message.hasPrefix("\(row.expect): "), "\(verdict.message)")
        }
        if let related = row.related {
            let expected = related.split(separator: ",").map { Scenario.split(String($0)) }.map { PodRef(namespace: $0.0, name: $0.1) }
            #expect(verdict.relatedPods == expected)
        }
        for text in row.contains { #expect(verdict.message.contains(text), "\(verdict.message)") }
        for w in verdict.warnings { #expect(!w.contains("\n")) }
    }

    /// Only rule 3's refusal names what confirms it at the source: the other nodes it counted, how many of
    /// them must still be in maintenance, and the target with the level asked for. Every other verdict
    /// (allowed, unknown state, a quorum or capacity refusal) must wait for a current state.
    @Test(arguments: [
        (EngineRow(name: "one other", state: "node n1; node n2 maint; pod app/p n1", expect: ""),
            RefusalConfirmation(target: "n1", level: .plannedDowntime, nodes: ["n2"], atLeast: 1)),
        (EngineRow(name: "two others, max 2", state: "node n1; node n2 maint; node n3 maint=drain", config: "maxNodesInMaintenance: 2", expect: ""),
            RefusalConfirmation(target: "n1", level: .plannedDowntime, nodes: ["n2", "n3"], atLeast: 2)),
        (EngineRow(name: "a pending entry", state: three, pending: ["n2"], expect: ""),
            RefusalConfirmation(target: "n1", level: .plannedDowntime, nodes: ["n2"], atLeast: 1)),
        (EngineRow(name: "NoExecute entry", state: "node n1; node n2 maint", transition: .enter(.evict), expect: ""),
            RefusalConfirmation(target: "n1", level: .evict, nodes: ["n2"], atLeast: 1)),
        (EngineRow(name: "concurrency and quorum", state: etcd + "; node n2 maint", expect: ""),
            RefusalConfirmation(target: "n1", level: .plannedDowntime, nodes: ["n2"], atLeast: 1)),
        (EngineRow(name: "quorum only", state: etcd + "; pod kv/etcd-2 n3 app=etcd unready; pdb kv/etcd app=etcd min=67%", config: "maxNodesInMaintenance: 2", expect: ""), nil),
        (EngineRow(name: "capacity only", state: fit + "; pod app/q n2 cpu=1", expect: ""), nil),
        (EngineRow(name: "allowed", state: three, expect: ""), nil),
        (EngineRow(name: "unknown", state: "UNKNOWN", pending: ["n2", "n3"], expect: ""), nil),
        (EngineRow(name: "node missing", state: "node n2 maint", expect: ""), nil),
    ] as [(EngineRow, RefusalConfirmation?)])
    func onlyTheConcurrencyRefusalIsConfirmable(_ row: EngineRow, _ confirmation: RefusalConfirmation?) throws {
        let verdict = try Self.run(row)
        #expect(verdict.confirmation == confirmation, "\(verdict.message)")
        if confirmation != nil { #expect(verdict.reason == .tooManyExistingFailures) }
        if row.name.hasSuffix("only") { #expect(!verdict.allowed, "the row must be a refusal: \(verdict.message)") }
    }

    @Test func budgetFindingsCarryTheArithmetic() throws {
        let v = try Self.run(EngineRow(name: "", state: etcd + "; pod kv/etcd-2 n3 app=etcd unready; pdb kv/etcd app=etcd min=67%", expect: ""))
        let b = try #require(v.findings.budgets.first)
        #expect((b.expected, b.healthy, b.required) == (3, 1, 3))
        #expect(b.rule == "minAvailable 67%")
        #expect(b.podsOnNode == [PodRef(namespace: "kv", name: "etcd-0")])
    }

    @Test(arguments: [
        ("pdb kv/x app=etcd", "kv/x sets neither minAvailable nor maxUnavailable"),
        ("pdb kv/x app=etcd min=lots", "kv/x has an invalid bound"),
    ])
    func badBudgetsWarn(budget: String, warning: String) throws {
        let v = try Self.run(EngineRow(name: "", state: etcd + "; " + budget, expect: ""))
        #expect(v.warnings == ["budget " + warning])
        // An invalid bound requires every expected pod, so the entry is refused.
        #expect(v.allowed == budget.hasSuffix("etcd"))
    }

    @Test func exitListsThePodsToClear() {
        var state = Scenario.state("node n1; node n2; pod a/p n1; pod a/q n1; pod a/r n2")
        state.setAnnotation(namespace: "a", pod: "p", key: "emm-failure", value: "NotEnoughResources")
        state.setAnnotation(namespace: "a", pod: "r", key: "emm-failure", value: "NotEnoughResources")
        let verdict = PolicyEngine().exitVerdict(node: "n1", state: state)
        #expect(verdict.allowed)
        #expect(verdict.relatedPods == [PodRef(namespace: "a", name: "p")])
        state.setAnnotation(namespace: "a", pod: "p", key: "emm-failure", value: nil)
        #expect(PolicyEngine().podsToClear(onNode: "n1", state: state).isEmpty)
    }

    @Test func customAnnotationKeyIsUsedForExit() throws {
        var state = Scenario.state("node n1; pod a/p n1")
        state.setAnnotation(namespace: "a", pod: "p", key: "appplatform.vmware.com/emm-failure", value: "GenericFailure")
        let config = try PolicyConfig.load(yaml: "annotationKey: appplatform.vmware.com/emm-failure")
        #expect(PolicyEngine(config: config).podsToClear(onNode: "n1", state: state) == [PodRef(namespace: "a", name: "p")])
        #expect(PolicyEngine().podsToClear(onNode: "n1", state: state).isEmpty)
    }
}
