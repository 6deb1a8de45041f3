import TMMPolicy
import Testing

@Suite struct LabelSelectorTests {
    static let labels = ["app": "db", "tier": "backend", "env": "prod", "example.com/team": "a"]

    @Test(arguments: [
        ("", true), ("app=", false), ("app=db", true), ("app==db", true), ("app=web", false), ("app!=web", true), ("app!=db", false),
        ("missing!=x", true), ("tier in (backend,frontend)", true), ("tier in (frontend)", false),
        ("tier notin (frontend)", true), ("tier notin (backend)", false), ("missing notin (x)", true),
        ("app", true), ("missing", false), ("!missing", true), ("!app", false), ("example.com/team=a", true),
        ("app=db,tier!=frontend,env in (prod, staging),!canary", true), ("app=db,env=dev", false),
        (" app = db , tier ", true),
    ])
    func matches(selector: String, expected: Bool) throws {
        let s = try LabelSelector.parse(selector)
        #expect(s.matches(Self.labels) == expected)
    }

    @Test(arguments: ["app in", "app in (a", "app in ()", "a b", "app=db,", "=db", "app~db", "-app=x", "app=x/y", "a/b/c=d"])
    func rejects(selector: String) {
        #expect(throws: PolicyError(.selector, "")) { try LabelSelector.parse(selector) }
    }

    @Test func structuredFormMatchesLikeKubernetes() {
        let s = LabelSelector(
            matchLabels: ["app": "db"],
            matchExpressions: [LabelRequirement("tier", .in, ["backend"]), LabelRequirement("canary", .doesNotExist)])
        #expect(s.matches(Self.labels))
        #expect(!s.matches(["app": "db"]))
        #expect(LabelSelector.everything.matches([:]))
    }

    @Test func roundTripsThroughDescription() throws {
        let text = "app=db,tier!=x,env in (a,b),f notin (y,z),g,!h"
        #expect(try LabelSelector.parse(text).description == text)
    }
}
