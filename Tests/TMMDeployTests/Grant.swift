import Foundation
import Yams

/// One permission: a verb on a resource (optionally one named object), cluster-wide or in a namespace.
/// RBAC rules and the table in deploy/permissions.yaml are both expanded into sets of these and compared.
struct Grant: Hashable, Comparable, CustomStringConvertible {
    /// "cluster" for a ClusterRole bound by a ClusterRoleBinding, else the namespace of the RoleBinding.
    let scope: String
    let apiGroup: String
    let resource: String
    let resourceName: String?
    let verb: String

    var description: String {
        let group = apiGroup.isEmpty ? "core" : apiGroup
        let object = resourceName.map { "/" + $0 } ?? ""
        return "\(scope): \(verb) \(group)/\(resource)\(object)"
    }

    static func < (a: Grant, b: Grant) -> Bool { a.description < b.description }

    /// The grants of the RBAC `rules` of a Role or ClusterRole, in `scope`. A non-resource rule is
    /// returned as a grant on the resource "nonResourceURLs:<url>" so that it shows up as unexpected.
    static func expand(rules: Manifest, scope: String) -> Set<Grant> {
        var grants: Set<Grant> = []
        for rule in rules.array {
            for url in rule["nonResourceURLs"].strings {
                for verb in rule["verbs"].strings {
                    grants.insert(Grant(
                        scope: scope, apiGroup: "", resource: "nonResourceURLs:" + url, resourceName: nil, verb: verb))
                }
            }
            let names: [String?] = rule["resourceNames"].strings.isEmpty ? [nil] : rule["resourceNames"].strings
            for group in rule["apiGroups"].strings {
                for resource in rule["resources"].strings {
                    for name in names {
                        for verb in rule["verbs"].strings {
                            grants.insert(Grant(
                                scope: scope, apiGroup: group, resource: resource, resourceName: name, verb: verb))
                        }
                    }
                }
            }
        }
        return grants
    }

    /// The permission table of deploy/permissions.yaml, which must match the API calls the code makes
    /// (Sources/TMMKube). `namespace` is the webhook's own namespace, the scope of `ownNamespace`.
    static func required(namespace: String) throws -> Set<Grant> {
        let url = Kustomize.repositoryRoot.appendingPathComponent("deploy/permissions.yaml")
        let text = try String(contentsOf: url, encoding: .utf8)
        let table = Manifest(try Yams.load(yaml: text))
        var grants: Set<Grant> = []
        for (section, scope) in [("clusterWide", "cluster"), ("ownNamespace", namespace)] {
            let entries = table[section].array
            if entries.isEmpty { throw DeployTestError("deploy/permissions.yaml has no entries under \(section)") }
            for entry in entries {
                guard let resource = entry["resource"].string, let group = entry["apiGroup"].string,
                      !entry["verbs"].strings.isEmpty
                else { throw DeployTestError("deploy/permissions.yaml: incomplete entry \(entry)") }
                let names: [String?] =
                    entry["resourceNames"].strings.isEmpty ? [nil] : entry["resourceNames"].strings
                for name in names {
                    for verb in entry["verbs"].strings {
                        grants.insert(Grant(
                            scope: scope, apiGroup: group, resource: resource, resourceName: name, verb: verb))
                    }
                }
            }
        }
        return grants
    }
}
