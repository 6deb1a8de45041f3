import TMMPolicy
import Testing

@Suite struct TransitionTests {
    static let keys = PolicyConfig.default.taintKeys
    static let planned = Taint(key: "drain", value: "planned-downtime", effect: "NoSchedule")
    static let drain = Taint(key: "node.vmware.com/drain", value: "drain", effect: "NoSchedule")
    static let dell = Taint(key: "node.dell.com/drain", value: "planned-downtime", effect: "NoSchedule")
    static let other = Taint(key: "dedicated", value: "gpu", effect: "NoSchedule")
    static let wrongEffect = Taint(key: "drain", value: "drain", effect: "NoExecute")
    static let wrongValue = Taint(key: "drain", value: "yes", effect: "NoSchedule")

    @Test(arguments: [
        ([], [planned], Transition.enter(.plannedDowntime)),
        ([other], [other, drain], .enter(.drain)),
        ([], [dell], .enter(.plannedDowntime)),
        ([planned], [], .exit),
        ([drain, other], [other], .exit),
        ([planned], [drain], .escalate),
        ([planned], [planned, drain], .escalate),
        ([drain], [planned], .none),
        ([planned], [planned], .none),
        ([planned], [dell], .none),
        ([], [other], .none),
        ([], [wrongEffect], .none),
        ([], [wrongValue], .none),
        ([], [], .none),
    ] as [([Taint], [Taint], Transition)])
    func classifies(old: [Taint], new: [Taint], expected: Transition) {
        #expect(Transition.classify(old: old, new: new, taintKeys: Self.keys) == expected)
    }

    @Test func onlyConfiguredKeysCount() {
        #expect(Transition.classify(old: [], new: [Self.planned], taintKeys: ["node.vmware.com/drain"]) == .none)
    }
}
