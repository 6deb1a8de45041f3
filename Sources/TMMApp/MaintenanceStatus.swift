import Glibc
public import TMMJSON
public import TMMPolicy

/// The answer of `tmm-webhook status`: which nodes are in maintenance and since when, which admitted
/// entries the webhook still counts, and which pods carry the failure annotation, with why.
public struct MaintenanceStatus: Sendable {
    /// A node in maintenance.
    public struct NodeInMaintenance: Sendable, Equatable {
        public var node: String
        /// Its deepest maintenance level.
        public var level: MaintenanceLevel
        /// The maintenance taints, as `kubectl taint` writes them.
        public var taints: [String]
        /// The earliest maintenance taint's `timeAdded` (RFC 3339), when its writer set one (`kubectl taint`
        /// and kube-apiserver do not; the node controller does for its own taints).
        public var since: String?
    }

    /// A pod carrying the failure annotation.
    public struct FailedPod: Sendable, Equatable {
        public var pod: PodRef
        /// The annotation's value: `TooManyExistingFailures`, `NotEnoughResources` or `GenericFailure`.
        public var reason: String
        public var node: String?
    }

    public var nodes: [NodeInMaintenance]
    /// Admitted entries whose node does not show its taint yet.
    public var pending: [AdmittedEntry]
    public var failedPods: [FailedPod]
    /// The annotation read, e.g. `emm-failure`.
    public var annotationKey: String
    /// Where the policy came from, and the Lease read.
    public var policySource: String
    public var lease: String
    /// The time the report was made, Unix seconds.
    public var now: Int64

    /// Builds the report from the nodes (JSON objects as listed), the Lease's entries and a state that
    /// holds the pods (with `config.annotationKey` kept).
    public static func make(
        nodes: [JSON], entries: [AdmittedEntry], pods: ClusterState, config: PolicyConfig, policySource: String, lease: String,
        now: Int64
    ) -> MaintenanceStatus {
        var inMaintenance: [NodeInMaintenance] = []
        for node in nodes {
            guard let name = node.value(at: "metadata", "name")?.string else { continue }
            var level: MaintenanceLevel?
            var taints: [String] = []
            var since: String?
            for t in node.value(at: "spec", "taints")?.array ?? [] {
                let taint = Taint(key: t["key"]?.string ?? "", value: t["value"]?.string ?? "", effect: t["effect"]?.string ?? "")
                guard config.taintKeys.contains(taint.key), let found = MaintenanceLevel(taint: taint) else { continue }
                taints.append(taint.description)
                let added = t["timeAdded"]?.string
                if level == nil || level! < found {
                    level = found
                }
                // The earliest time a maintenance taint was added is when the maintenance began.
                if let added {
                    if let earlier = since, earlier <= added { continue }
                    since = added
                }
            }
            if let level {
                inMaintenance.append(NodeInMaintenance(node: name, level: level, taints: taints.sorted(), since: since))
            }
        }
        let tainted = Set(inMaintenance.map(\.node))
        var versions: [String: UInt64] = [:]
        for node in nodes {
            if let name = node.value(at: "metadata", "name")?.string {
                versions[name] = node.value(at: "metadata", "resourceVersion")?.string.flatMap { UInt64($0) } ?? 0
            }
        }
        let failed = pods.pods(annotatedWith: config.annotationKey)
            .map { FailedPod(pod: $0.pod, reason: $0.value, node: $0.node) }
            .sorted { $0.pod < $1.pod }
        return MaintenanceStatus(
            nodes: inMaintenance.sorted { $0.node < $1.node }, pending: entries.filter {
                $0.isPending(nodeVersion: versions[$0.node], inMaintenance: tainted.contains($0.node), now: now)
            },
            failedPods: failed, annotationKey: config.annotationKey, policySource: policySource, lease: lease, now: now)
    }

    /// Human-readable report.
    public var text: String {
        var out: [String] = []
        out.append("Nodes in maintenance: \(nodes.count)")
        for n in nodes {
            out.append("  \(n.node)  \(n.level.taintDescription)  since \(n.since ?? "unknown")  (\(n.taints.joined(separator: ", ")))")
        }
        out.append("Admitted entries pending in Lease \(lease): \(pending.count)")
        for e in pending {
            var expiry = "no expiry recorded"
            if let x = e.expires { expiry = "until " + Self.rfc3339(x) + " (" + String(x - now) + " s)" }
            out.append("  " + e.node + "  " + expiry)
        }
        out.append("Pods with \(annotationKey): \(failedPods.count)")
        for p in failedPods {
            out.append("  \(p.pod)  \(p.reason)  node \(p.node ?? "none")")
        }
        out.append("policy: \(policySource)")
        return out.joined(separator: "\n") + "\n"
    }

    /// Machine-readable report.
    public var json: String {
        var w = JSONWriter()
        w.beginObject()
        w.key("nodesInMaintenance"); w.beginArray()
        for n in nodes {
            w.beginObject()
            w.key("node"); w.value(n.node)
            w.key("level"); w.value(n.level.rawValue)
            w.key("taints"); w.beginArray(); for t in n.taints { w.value(t) }; w.endArray()
            w.key("since"); if let s = n.since { w.value(s) } else { w.null() }
            w.endObject()
        }
        w.endArray()
        w.key("pendingEntries"); w.beginArray()
        for e in pending {
            w.beginObject()
            w.key("node"); w.value(e.node)
            w.key("expires"); if let x = e.expires { w.value(Self.rfc3339(x)) } else { w.null() }
            w.endObject()
        }
        w.endArray()
        w.key("failedPods"); w.beginArray()
        for p in failedPods {
            w.beginObject()
            w.key("namespace"); w.value(p.pod.namespace)
            w.key("name"); w.value(p.pod.name)
            w.key("reason"); w.value(p.reason)
            w.key("node"); if let n = p.node { w.value(n) } else { w.null() }
            w.endObject()
        }
        w.endArray()
        w.key("annotationKey"); w.value(annotationKey)
        w.key("lease"); w.value(lease)
        w.key("policy"); w.value(policySource)
        w.endObject()
        return w.string + "\n"
    }

    /// Unix seconds as `2026-11-26T01:02:03Z`.
    static func rfc3339(_ seconds: Int64) -> String {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0" + String(n) : String(n) }
        let date = String(parts.tm_year + 1900) + "-" + two(parts.tm_mon + 1) + "-" + two(parts.tm_mday)
        let time = two(parts.tm_hour) + ":" + two(parts.tm_min) + ":" + two(parts.tm_sec)
        return date + "T" + time + "Z"
    }
}
