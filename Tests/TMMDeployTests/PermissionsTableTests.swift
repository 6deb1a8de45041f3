import Testing
import TMMKube

/// deploy/permissions.yaml (what RBAC grants, checked against the rendered manifests) is the same table
/// as `KubePermissions.rules` (what the code declares it calls).
@Suite struct PermissionsTableTests {
    @Test func theDeployTableMatchesTheCodesTable() throws {
        let namespace = "tmm-system"
        let granted = Set(try Grant.required(namespace: namespace).map { "\($0.scope) \($0.verb) \($0.apiGroup)/\($0.resource)" })
        let declared = Set(KubePermissions.rules.map { rule in
            "\(rule.ownNamespaceOnly ? namespace : "cluster") \(rule.verb) \(rule.group)/\(rule.resource)"
        })
        #expect(granted.subtracting(declared).isEmpty, "in deploy/permissions.yaml, not in KubePermissions: \(granted.subtracting(declared).sorted())")
        #expect(declared.subtracting(granted).isEmpty, "in KubePermissions, not in deploy/permissions.yaml: \(declared.subtracting(granted).sorted())")
    }
}
