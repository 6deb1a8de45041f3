public import TMMKube
public import TMMPolicy

/// What live mode's watch cache keeps (nodes, pods, budgets, and the PersistentVolumes and claims that pin
/// pods to nodes): the policy's `ClusterState`, each node's resourceVersion, and
/// which nodes the watch shows in maintenance, with the changes of that set not yet handed on.
///
/// Each LIST page and watch event is decoded once, straight from the API server's bytes.
public struct ClusterStore: WatchCacheStore {
    /// The collections live mode watches.
    public enum Resource: String, WatchedResource {
        case nodes, pods, poddisruptionbudgets, persistentvolumes, persistentvolumeclaims

        public var name: String { rawValue }

        public var path: String {
            switch self {
            case .nodes: "/api/v1/nodes"
            case .pods: "/api/v1/pods"
            case .poddisruptionbudgets: "/apis/policy/v1/poddisruptionbudgets"
            case .persistentvolumes: "/api/v1/persistentvolumes"
            case .persistentvolumeclaims: "/api/v1/persistentvolumeclaims"
            }
        }
    }

    /// The state the policy decides on.
    public var cluster: ClusterState
    /// Each node's `metadata.resourceVersion` as last seen (from a list item or an event).
    public private(set) var nodeVersions: [String: UInt64] = [:]
    /// The maintenance taint keys of the policy in force (set when the policy changes).
    public var taintKeys: [String]
    /// The nodes the watch shows in maintenance.
    public private(set) var inMaintenance: Set<String> = []
    /// Changes of `inMaintenance` since the last ``takeTransitions()``, in order.
    private var transitions: [NodeTransition] = []
    /// What each relist in progress has seen so far (the resources list concurrently).
    private var listing: [Resource: ClusterState.MergedObjects] = [:]
    /// The first full list of nodes is the starting point, not a change.
    private var nodesListedOnce = false

    public init(keptAnnotationKeys: Set<String>, taintKeys: [String]) {
        self.cluster = ClusterState(keptAnnotationKeys: keptAnnotationKeys)
        self.taintKeys = taintKeys
    }

    /// The resourceVersion of node `name` as last seen, 0 when unknown.
    public func version(ofNode name: String) -> UInt64 { nodeVersions[name] ?? 0 }

    /// Hands on (and forgets) the maintenance changes seen since the last call.
    public mutating func takeTransitions() -> [NodeTransition] {
        defer { transitions.removeAll() }
        return transitions
    }

    public mutating func beginList(_ resource: Resource) {
        listing[resource] = ClusterState.MergedObjects()
    }

    public mutating func mergeListPage(_ resource: Resource, page: [UInt8]) throws(KubeError) {
        do throws(PolicyError) {
            try cluster.merge(json: page, recording: &listing[resource, default: ClusterState.MergedObjects()])
        } catch {
            throw KubeError(.decode, "LIST \(resource.path): \(error)")
        }
        if resource == .nodes {
            for item in try KubeList.itemMetadata(page) { nodeVersions[item.name] = UInt64(item.resourceVersion) ?? 0 }
        }
    }

    public mutating func endList(_ resource: Resource) -> (objects: Int, removed: Int) {
        var removed = 0
        let objects: Int
        let listing = self.listing.removeValue(forKey: resource) ?? ClusterState.MergedObjects()
        switch resource {
        case .nodes:
            objects = listing.nodes.count
            for name in cluster.nodeNames where !listing.nodes.contains(name) {
                cluster.remove(node: name)
                nodeVersions[name] = nil
                removed += 1
            }
            for name in Set(inMaintenance).union(listing.nodes) { noteMaintenance(ofNode: name, reportChange: nodesListedOnce) }
            nodesListedOnce = true
        case .pods:
            objects = listing.pods.count
            for ref in cluster.podRefs where !listing.pods.contains(ref) {
                cluster.remove(namespace: ref.namespace, pod: ref.name)
                removed += 1
            }
        case .poddisruptionbudgets:
            objects = listing.budgets.count
            for ref in cluster.budgetRefs where !listing.budgets.contains(ref) {
                cluster.remove(namespace: ref.namespace, budget: ref.name)
                removed += 1
            }
        case .persistentvolumes:
            objects = listing.persistentVolumes.count
            for name in cluster.persistentVolumeNames where !listing.persistentVolumes.contains(name) {
                cluster.remove(persistentVolume: name)
                removed += 1
            }
        case .persistentvolumeclaims:
            objects = listing.persistentVolumeClaims.count
            for ref in cluster.persistentVolumeClaimRefs where !listing.persistentVolumeClaims.contains(ref) {
                cluster.remove(namespace: ref.namespace, persistentVolumeClaim: ref.name)
                removed += 1
            }
        }
        return (objects, removed)
    }

    public mutating func apply(_ resource: Resource, event: KubeWatchEvent) throws(KubeError) {
        if event.type == .deleted {
            switch resource {
            case .nodes:
                cluster.remove(node: event.name)
                nodeVersions[event.name] = nil
                noteMaintenance(ofNode: event.name, reportChange: true)
            case .pods: cluster.remove(namespace: event.namespace, pod: event.name)
            case .poddisruptionbudgets: cluster.remove(namespace: event.namespace, budget: event.name)
            case .persistentvolumes: cluster.remove(persistentVolume: event.name)
            case .persistentvolumeclaims: cluster.remove(namespace: event.namespace, persistentVolumeClaim: event.name)
            }
            return
        }
        do throws(PolicyError) {
            try cluster.merge(json: event.objectBytes)
        } catch {
            throw KubeError(.decode, "\(resource.name) \(event.namespace)/\(event.name): \(error)")
        }
        if resource == .nodes {
            nodeVersions[event.name] = UInt64(event.resourceVersion ?? "") ?? 0
            noteMaintenance(ofNode: event.name, reportChange: true)
        }
    }

    /// Updates `inMaintenance` for `name` from the state, recording a change when asked to.
    private mutating func noteMaintenance(ofNode name: String, reportChange: Bool) {
        let now = cluster.node(named: name).flatMap { MaintenanceLevel.of($0.taints, taintKeys: taintKeys) } != nil
        let before = inMaintenance.contains(name)
        guard now != before else { return }
        if now { inMaintenance.insert(name) } else { inMaintenance.remove(name) }
        if reportChange {
            transitions.append(now ? .entered(node: name, resourceVersion: version(ofNode: name)) : .left(node: name))
        }
    }

    /// Re-reads which nodes are in maintenance after the taint keys changed (no transitions are reported:
    /// nothing happened in the cluster).
    public mutating func refreshMaintenance() {
        inMaintenance = Set(cluster.nodeNames.filter { name in
            cluster.node(named: name).flatMap { MaintenanceLevel.of($0.taints, taintKeys: taintKeys) } != nil
        })
    }
}

/// A node entering or leaving maintenance, as the cluster showed it (the watch, or in snapshot mode the
/// requests themselves).
public enum NodeTransition: Sendable, Equatable {
    /// The node carries a maintenance taint now; `resourceVersion` is the node's version that shows it.
    case entered(node: String, resourceVersion: UInt64)
    /// The node no longer carries a maintenance taint (or is gone).
    case left(node: String)
}
