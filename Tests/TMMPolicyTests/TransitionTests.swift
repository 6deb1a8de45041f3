import TMMPolicy
import Testing

@Suite struct TransitionTests {
    static let keys = PolicyConfig.default.taintKeys
    static let planned = Taint(key: "drain", value: "planned-downtime", effect: "NoSchedule")
    static let drain = Taint(key: "node.vmware.com/drain", value: "drain", effect: "NoSchedule")
    static let dell = Taint(key: "node.dell.com/drain", value: "planned-downtime", effect: "NoSchedule")
    static let other = Taint(key: "dedicated", value: "gpu", effect: "NoSchedule")
    static let plannedExecute = Taint(key: "drain", value: "planned-downtime", effect: "NoExecute")
    static let drainExecute = Taint(key: "drain", value: "drain", effect: "NoExecute")
    static let dellExecute = Taint(key: "node.dell.com/drain", value: "drain", effect: "NoExecute")
    static let prefer = Taint(key: "drain", value: "drain", effect: "PreferNoSchedule")
    static let wrongValue = Taint(key: "drain", value: "yes", effect: "NoSchedule")
    static let wrongValueExecute = Taint(key: "drain", value: "yes", effect: "NoExecute")
    static let unreachable = Taint(key: "node.kubernetes.io/unreachable", value: "", effect: "NoExecute")

    @Test(arguments: [
        ([], [planned], Transition.enter(.plannedDowntime)),
        ([other], [other, drain], .enter(.drain)),
        ([], [dell], .enter(.plannedDowntime)),
        ([planned], [], .exit),
        ([drain, other], [other], .exit),
        ([planned], [drain], .escalate(.drain)),
        ([planned], [planned, drain], .escalate(.drain)),
        ([drain], [planned], .none),
        ([planned], [planned], .none),
        ([planned], [dell], .none),
        ([], [other], .none),
        ([], [wrongValue], .none),
        ([], [], .none),
        // NoExecute: an entry at the deepest level, whatever the value; a change of effect escalates.
        ([], [plannedExecute], .enter(.evict)),
        ([], [drainExecute], .enter(.evict)),
        ([other], [other, dellExecute], .enter(.evict)),
        ([planned], [plannedExecute], .escalate(.evict)),
        ([drain], [drainExecute], .escalate(.evict)),
        ([planned], [planned, drainExecute], .escalate(.evict)),
        ([drainExecute], [], .exit),
        ([plannedExecute], [drainExecute], .none),
        ([drainExecute], [dellExecute], .none),
        // NoExecute back to NoSchedule: a step back, not reviewed; the node stays in maintenance.
        ([drainExecute], [drain], .none),
        ([plannedExecute], [planned], .none),
        // PreferNoSchedule is not maintenance; neither are other values nor other keys.
        ([], [prefer], .none),
        ([prefer], [], .none),
        ([prefer], [drain], .enter(.drain)),
        ([drain], [prefer], .exit),
        ([], [wrongValueExecute], .none),
        ([], [unreachable], .none),
    ] as [([Taint], [Taint], Transition)])
    func classifies(old: [Taint], new: [Taint], expected: Transition) {
        #expect(Transition.classify(old: old, new: new, taintKeys: Self.keys) == expected)
    }

    @Test func onlyConfiguredKeysCount() {
        #expect(Transition.classify(old: [], new: [Self.planned], taintKeys: ["node.vmware.com/drain"]) == .none)
        #expect(Transition.classify(old: [], new: [Self.drainExecute], taintKeys: ["node.vmware.com/drain"]) == .none)
    }

    @Test(arguments: [
        ([planned], MaintenanceLevel?.some(.plannedDowntime)),
        ([drain, planned], .drain),
        ([planned, plannedExecute], .evict),
        ([prefer], nil),
        ([other, unreachable], nil),
    ] as [([Taint], MaintenanceLevel?)])
    func levelIsTheDeepest(taints: [Taint], expected: MaintenanceLevel?) {
        #expect(MaintenanceLevel.of(taints, taintKeys: Self.keys) == expected)
    }

    @Test func levelsAreOrdered() {
        #expect(MaintenanceLevel.plannedDowntime < .drain && MaintenanceLevel.drain < .evict)
        #expect(!MaintenanceLevel.plannedDowntime.evacuates && MaintenanceLevel.drain.evacuates && MaintenanceLevel.evict.evacuates)
    }
}
