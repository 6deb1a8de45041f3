import Testing
import Yams

/// One rendered overlay with the objects every check needs, each required to exist exactly once.
struct Rendered {
    let variant: Variant
    let objects: [Manifest]
    let deployment: Manifest
    let service: Manifest
    let webhookConfiguration: Manifest
    let webhook: Manifest

    init(_ variant: Variant) throws {
        self.variant = variant
        objects = try Kustomize.render(variant.path)
        deployment = try #require(objects.one("Deployment", named: Names.app), "one Deployment \(Names.app)")
        service = try #require(objects.one("Service", named: Names.app), "one Service \(Names.app)")
        webhookConfiguration = try #require(
            objects.one("ValidatingWebhookConfiguration", named: Names.app),
            "one ValidatingWebhookConfiguration \(Names.app)")
        let webhooks = webhookConfiguration["webhooks"].array
        try #require(webhooks.count == 1, "exactly one webhook in the configuration, found \(webhooks.count)")
        webhook = webhooks[0]
    }

    var podSpec: Manifest { deployment["spec"]["template"]["spec"] }
    var podLabels: [String: String] { deployment["spec"]["template"]["metadata"]["labels"].stringMap }

    /// The single container.
    func container() throws -> Manifest {
        let containers = podSpec["containers"].array
        try #require(containers.count == 1, "one container, found \(containers.count)")
        return containers[0]
    }

    /// The container's plain `value` environment variables.
    func environment() throws -> [String: String] {
        var environment: [String: String] = [:]
        for variable in try container()["env"].array {
            if let name = variable["name"].string, let value = variable["value"].string {
                environment[name] = value
            }
        }
        return environment
    }

    /// The pod volume named `name`.
    func volume(_ name: String) throws -> Manifest {
        try #require(podSpec["volumes"].array.first { $0["name"].string == name }, "pod volume \(name)")
    }

    /// The container's mount of the volume whose source matches `matches`.
    func mount(of volumeName: String) throws -> Manifest {
        try #require(
            try container()["volumeMounts"].array.first { $0["name"].string == volumeName },
            "a mount of volume \(volumeName)")
    }

    /// The policy file, parsed from the ConfigMap.
    func policy() throws -> Manifest {
        let configMap = try #require(
            objects.one("ConfigMap", named: Names.policyConfigMap), "one ConfigMap \(Names.policyConfigMap)")
        let text = try #require(configMap["data"][Names.policyKey].string, "key \(Names.policyKey) in the ConfigMap")
        return Manifest(try Yams.load(yaml: text))
    }

    /// The webhook's matchCondition named `name`.
    func matchCondition(_ name: String) throws -> String {
        let condition = webhook["matchConditions"].array.first { $0["name"].string == name }
        return try #require(condition?["expression"].string, "matchCondition \(name)")
    }
}

/// True if every label `selector` asks for is on `labels` (and the selector is not empty).
func selects(_ selector: [String: String], _ labels: [String: String]) -> Bool {
    !selector.isEmpty && selector.allSatisfy { labels[$0.key] == $0.value }
}
