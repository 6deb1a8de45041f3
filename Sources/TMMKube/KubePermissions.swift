/// Every Kubernetes API call the webhook makes, as one table: the RBAC manifests must grant exactly these
/// (the deploy tests compare them), and code that adds a call adds a row here.
public enum KubePermissions {
    /// One API verb on one resource.
    public struct Rule: Sendable, Hashable {
        /// The RBAC verb: `get`, `list`, `watch`, `create`, `update`, `patch`.
        public var verb: String
        /// The API group; `""` for the core group.
        public var group: String
        /// The plural resource name.
        public var resource: String
        /// True when the webhook only needs it in its own namespace (a `Role`, not a `ClusterRole`).
        public var ownNamespaceOnly: Bool

        public init(verb: String, group: String, resource: String, ownNamespaceOnly: Bool) {
            self.verb = verb
            self.group = group
            self.resource = resource
            self.ownNamespaceOnly = ownNamespaceOnly
        }
    }

    /// The calls, cluster-wide ones first.
    public static let rules: [Rule] =
        ["get", "list", "watch"].map { Rule(verb: $0, group: "", resource: "nodes", ownNamespaceOnly: false) }
        + ["get", "list", "watch", "patch"].map { Rule(verb: $0, group: "", resource: "pods", ownNamespaceOnly: false) }
        + ["get", "list", "watch"].map { Rule(verb: $0, group: "policy", resource: "poddisruptionbudgets", ownNamespaceOnly: false) }
        // Volumes with node affinity (local disks) decide where a pod may move, or that it waits for its node.
        + ["get", "list", "watch"].map { Rule(verb: $0, group: "", resource: "persistentvolumes", ownNamespaceOnly: false) }
        + ["get", "list", "watch"].map { Rule(verb: $0, group: "", resource: "persistentvolumeclaims", ownNamespaceOnly: false) }
        // Events are written on Nodes (cluster-scoped objects), which puts them in the `default` namespace.
        + ["create", "patch"].map { Rule(verb: $0, group: "", resource: "events", ownNamespaceOnly: false) }
        + ["get", "create", "update"].map { Rule(verb: $0, group: "coordination.k8s.io", resource: "leases", ownNamespaceOnly: true) }
}
