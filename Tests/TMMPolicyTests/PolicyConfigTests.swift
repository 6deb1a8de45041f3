import TMMPolicy
import Testing

@Suite struct PolicyConfigTests {
    @Test func emptyYAMLIsTheDefault() throws {
        #expect(try PolicyConfig.load(yaml: "") == PolicyConfig())
        #expect(try PolicyConfig.load(yaml: "# nothing\n") == PolicyConfig())
        let d = PolicyConfig.default
        #expect(d.mode == .enforce && d.maxNodesInMaintenance == 1 && d.annotationKey == "emm-failure")
        #expect(d.taintKeys == ["drain", "node.vmware.com/drain", "node.dell.com/drain"])
        #expect(d.failureDomainLabel.isEmpty && d.podSelector.isEmpty && d.checks.quorum && d.checks.capacity && d.failClosed)
    }

    @Test func readsEveryKey() throws {
        let yaml = """
            mode: annotate
            maxNodesInMaintenance: 3
            annotationKey: appplatform.vmware.com/emm-failure
            taintKeys: [node.vmware.com/drain]
            failureDomainLabel: topology.kubernetes.io/zone
            podSelector: "app in (db),!skip"
            checks: {quorum: false, capacity: true}
            failClosed: false
            """
        let c = try PolicyConfig.load(yaml: yaml)
        #expect(c.mode == .annotate)
        #expect(c.maxNodesInMaintenance == 3)
        #expect(c.annotationKey == "appplatform.vmware.com/emm-failure")
        #expect(c.taintKeys == ["node.vmware.com/drain"])
        #expect(c.failureDomainLabel == "topology.kubernetes.io/zone")
        #expect(c.podSelector == (try LabelSelector.parse("app in (db),!skip")))
        #expect(c.checks == PolicyConfig.Checks(quorum: false, capacity: true))
        #expect(!c.failClosed)
    }

    @Test(arguments: [
        ("mode: enforce\nmaxNode: 2\n", "maxNode", 2),
        ("mode: strict\n", "mode", 1),
        ("failClosed: true\nmaxNodesInMaintenance: 0\n", "maxNodesInMaintenance", 2),
        ("maxNodesInMaintenance: two\n", "maxNodesInMaintenance", 1),
        ("\n\npodSelector: \"app in (a\"\n", "podSelector", 3),
        ("checks:\n  quorum: true\n  speed: true\n", "checks.speed", 3),
        ("checks:\n  quorum: maybe\n", "checks.quorum", 2),
        ("checks: yes\n", "checks", 1),
        ("taintKeys: drain\n", "taintKeys", 1),
        ("taintKeys: []\n", "taintKeys", 1),
        ("annotationKey: \"\"\n", "annotationKey", 1),
        ("failClosed: \"true\"\n", "failClosed", 1),
        ("maxNodesInMaintenance: 1.5\n", "maxNodesInMaintenance", 1),
    ] as [(String, String, Int)])
    func errorsNameKeyAndLine(yaml: String, key: String, line: Int) {
        do {
            _ = try PolicyConfig.load(yaml: yaml)
            Issue.record("accepted \(yaml)")
        } catch {
            #expect(error.code == .config)
            #expect(error.key == key)
            #expect(error.line == line)
            #expect(error.description.contains("line \(line): \(key): "))
        }
    }

    @Test func notYAMLIsAConfigError() {
        #expect(throws: PolicyError(.config, "")) { try PolicyConfig.load(yaml: "mode: [enforce\n") }
        #expect(throws: PolicyError(.config, "")) { try PolicyConfig.load(yaml: "- a\n- b\n") }
    }
}
