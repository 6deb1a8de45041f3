import Glibc
public import TMMJSON
public import TMMKube
public import TMMPolicy
import TMMTransport

/// The cluster as `check`, `plan` and `status` read it when no `--state` is given: one pass of paged
/// LISTs straight from the API server (no watch, no cache), the webhook's policy ConfigMap and its
/// admitted-entries Lease.
public struct LiveCluster: Sendable {
    /// The client, made from the resolved kubeconfig.
    public let client: KubeClient
    /// The webhook's namespace (where its Lease and policy ConfigMap live).
    public let namespace: String

    /// The namespace the manifests in `deploy/` install into.
    public static let defaultNamespace = "tmm-system"
    /// The Lease the replicas keep admitted entries in (`LiveEntryDecider.Options.leaseName`).
    public static let leaseName = "tmm-webhook-entries"
    /// The ConfigMap the policy is mounted from, and its file.
    public static let policyConfigMap = "tmm-webhook-policy"
    public static let policyFile = "policy.yaml"

    /// The collections a state is built from, in order (nodes first, so pods find their node), the
    /// same the webhook's cache watches: PersistentVolumes and claims give the volume filter its node
    /// affinity.
    public static let stateCollections = [
        "/api/v1/nodes", "/api/v1/pods", "/apis/policy/v1/poddisruptionbudgets", "/api/v1/persistentvolumes",
        "/api/v1/persistentvolumeclaims",
    ]

    /// Resolves the configuration as kubectl does: `kubeconfig` (the flag), else `KUBECONFIG` (its first
    /// path), else `~/.kube/config` when it exists, else in-cluster. `context` overrides the
    /// kubeconfig's current context.
    public init(
        kubeconfig: String?, context: String?, namespace: String,
        environment: [String: String] = KubeConfig.processEnvironment()
    ) throws(KubeError) {
        var path = kubeconfig
        if path == nil, environment["KUBECONFIG"].map({ $0.isEmpty }) ?? true, let home = environment["HOME"], !home.isEmpty,
            access("\(home)/.kube/config", R_OK) == 0
        {
            path = "\(home)/.kube/config"
        }
        let config = try KubeConfig.load(kubeconfigPath: path, context: context, environment: environment)
        var options = KubeClient.Options()
        options.userAgent = "tmm-webhook-cli"
        options.requestTimeout = .seconds(60)
        client = try KubeClient(config: config, options: options)
        self.namespace = namespace
    }

    /// Makes a reader over an existing client.
    public init(client: KubeClient, namespace: String) {
        self.client = client
        self.namespace = namespace
    }

    /// Things to say before anything else (e.g. TLS verification is off), from the kubeconfig.
    public var warnings: [String] { client.config.warnings }

    // MARK: State

    /// Every node, pod and budget, read page by page into a state (pages are merged as they come and
    /// dropped; no JSON tree is built). `keptAnnotationKeys` must name the policy's annotation.
    public func state(keptAnnotationKeys: Set<String>, collections: [String] = stateCollections) throws(KubeError) -> ClusterState {
        var state = ClusterState(keptAnnotationKeys: keptAnnotationKeys)
        for collection in collections {
            var token: String?
            repeat {
                let body = try page(of: collection, continue: token)
                do {
                    try state.merge(json: body)
                } catch {
                    throw KubeError(.decode, "LIST \(collection): \(error)")
                }
                let next = KubeList.metadata(of: body).continue
                token = next.isEmpty ? nil : next
            } while token != nil
        }
        return state
    }

    /// One page of a LIST of `collection` (`pageSize` items at most), as bytes.
    public func page(of collection: String, continue token: String?, pageSize: Int = 500) throws(KubeError) -> [UInt8] {
        var query = [("limit", String(pageSize))]
        if let token { query.append(("continue", token)) }
        return try client.request(method: "GET", path: KubeClient.appendQuery(collection, query)).body
    }

    /// Every item of a LIST of `collection`, as JSON trees (for small collections, such as nodes).
    public func items(of collection: String) throws(KubeError) -> [JSON] {
        try client.listAll(collection).items
    }

    // MARK: Policy

    /// Where the policy came from, for the operator.
    public enum PolicySource: Sendable, Equatable {
        case configMap(String)
        case defaults(why: String)
    }

    /// The webhook's policy as installed (`policy.yaml` of the ConfigMap `tmm-webhook-policy` in
    /// ``namespace``), or the defaults when it is missing or may not be read. A policy that is there but
    /// invalid is an error: the webhook would refuse it too.
    public func installedPolicy() throws -> (PolicyConfig, PolicySource) {
        let name = "\(namespace)/\(Self.policyConfigMap)"
        // (A `let` assigned in a do/catch here crashes swiftc 6.3.1's MandatoryAllocBoxToStack: keep the
        // lookup in a function of its own.)
        let found = try policyConfigMapObject()
        if found.forbidden { return (.default, .defaults(why: "ConfigMap \(name) may not be read")) }
        guard let object = found.object else { return (.default, .defaults(why: "ConfigMap \(name) not found")) }
        guard let text = object.value(at: "data", Self.policyFile)?.string else {
            return (.default, .defaults(why: "ConfigMap \(name) has no \(Self.policyFile)"))
        }
        do {
            return (try PolicyConfig.load(yaml: text), .configMap(name))
        } catch {
            throw WebhookServer.StartupError("invalid policy in ConfigMap \(name): \(error)")
        }
    }

    // MARK: Admitted entries

    /// The entries admitted by the webhook and recorded in its Lease, unexpired at `now` (Unix seconds);
    /// none when there is no Lease.
    public func admittedEntries(now: Int64) throws(KubeError) -> [AdmittedEntry] {
        guard let lease = try getIfPresent("/apis/coordination.k8s.io/v1/namespaces/\(namespace)/leases/\(Self.leaseName)") else {
            return []
        }
        return AdmittedEntry.read(lease: lease, now: now)
    }

    /// The policy ConfigMap, nil when missing; `forbidden` when RBAC refuses it.
    private func policyConfigMapObject() throws(KubeError) -> (object: JSON?, forbidden: Bool) {
        do throws(KubeError) {
            return (try getIfPresent("/api/v1/namespaces/\(namespace)/configmaps/\(Self.policyConfigMap)"), false)
        } catch {
            if error.isForbidden { return (nil, true) }
            throw error
        }
    }

    /// The object at `path`, or nil when the API server says 404.
    func getIfPresent(_ path: String) throws(KubeError) -> JSON? {
        do throws(KubeError) {
            return try client.get(path)
        } catch {
            if error.isNotFound { return nil }
            throw error
        }
    }
}

/// An entry the webhook admitted, kept in its Lease until the cluster shows what became of it or it expires.
public struct AdmittedEntry: Sendable, Equatable {
    /// The node admitted.
    public var node: String
    /// When the entry stops counting, in Unix seconds.
    public var expires: Int64?
    /// The node's resourceVersion when the entry was admitted (a later version shows what happened).
    public var resourceVersion: UInt64?

    public init(node: String, expires: Int64?, resourceVersion: UInt64? = nil) {
        self.node = node
        self.expires = expires
        self.resourceVersion = resourceVersion
    }

    /// Reads the unexpired entries of a `tmm-webhook-entries` Lease through ``EntryLedger/entries(of:)``,
    /// the webhook's own reader: the commands never parse the Lease's format themselves.
    public static func read(lease: JSON, now: Int64) -> [AdmittedEntry] {
        EntryLedger.entries(of: lease)
            .filter { $0.value.expires > now * 1000 }
            .map { AdmittedEntry(node: $0.key, expires: $0.value.expires / 1000, resourceVersion: $0.value.resourceVersion) }
            .sorted { $0.node < $1.node }
    }

    /// Whether the entry still counts, as the webhook decides it (``EntryLedger/Entry/isPending(nodeVersion:inMaintenance:nowMillis:)``),
    /// given the node's current resourceVersion (nil: the node is gone) and whether it shows maintenance.
    public func isPending(nodeVersion: UInt64?, inMaintenance: Bool, now: Int64) -> Bool {
        EntryLedger.Entry(expires: (expires ?? 0) * 1000 + 999, resourceVersion: resourceVersion ?? UInt64.max)
            .isPending(nodeVersion: nodeVersion, inMaintenance: inMaintenance, nowMillis: now * 1000)
    }
}
