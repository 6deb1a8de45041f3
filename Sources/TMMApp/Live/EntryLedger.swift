import Logging
import TMMBase
public import TMMJSON
import TMMKube
import TMMTransport

/// The admitted entries every replica agrees on, kept in a `coordination.k8s.io/v1` Lease in the
/// webhook's namespace (annotation `tmm-webhook.io/admitted-entries`: a JSON object, node name ->
/// `{"expires": Unix milliseconds, "resourceVersion": "the node's resourceVersion when admitted"}`).
///
/// Admission is a compare-and-swap on the Lease's resourceVersion: read, decide with the entries it
/// lists, write back with the same resourceVersion. A 409 means another replica admitted something in
/// between: read again and decide again. So two replicas racing for the last slot admit exactly one.
///
/// An entry counts as pending (a node about to be in maintenance) only until the cluster shows what
/// became of it: see ``Entry/isPending(nodeVersion:inMaintenance:nowMillis:)``.
public struct EntryLedger: Sendable {
    let client: KubeClient
    let namespace: String
    let name: String
    let holder: String
    public static let annotation = "tmm-webhook.io/admitted-entries"

    var path: String { "/apis/coordination.k8s.io/v1/namespaces/\(namespace)/leases/\(name)" }

    /// One admitted entry.
    public struct Entry: Sendable, Equatable {
        /// When the API server has surely stored or dropped the update (its deadline plus a margin), Unix ms.
        public var expires: Int64
        /// The node's resourceVersion when the entry was admitted: any later version shows what happened.
        public var resourceVersion: UInt64

        public init(expires: Int64, resourceVersion: UInt64) {
            self.expires = expires
            self.resourceVersion = resourceVersion
        }

        /// Whether the entry still counts as a node about to enter: not expired, the node not shown in
        /// maintenance, and not shown updated since the admission (an update without the taint means the
        /// entry was dropped, or the node has entered and left already). A node that is gone is not pending.
        public func isPending(nodeVersion: UInt64?, inMaintenance: Bool, nowMillis: Int64) -> Bool {
            guard let nodeVersion, expires > nowMillis, !inMaintenance else { return false }
            return nodeVersion <= resourceVersion
        }
    }

    /// The Lease as read: its object (to write back; nil when there is none yet) and its entries
    /// (expired ones included).
    public struct Snapshot: Sendable {
        var object: JSON?
        public var entries: [String: Entry]
    }

    /// Reads the Lease. A missing Lease is an empty one: it is created by the first write, so reading
    /// (a dry run, a denial) never writes.
    func read(deadline: Deadline) throws(KubeError) -> Snapshot {
        do throws(KubeError) {
            let object = try client.get(path, deadline: deadline)
            return Snapshot(object: object, entries: Self.entries(of: object))
        } catch where error.isNotFound {
            return Snapshot(object: nil, entries: [:])
        }
    }

    /// Writes `entries` back with the snapshot's resourceVersion (or creates the Lease when the snapshot
    /// had none); throws `isConflict` when it moved, `isAlreadyExists` when another replica created it first.
    func write(_ snapshot: Snapshot, entries: [String: Entry], deadline: Deadline) throws(KubeError) {
        var map: [String: JSON] = [:]
        for (node, entry) in entries {
            map[node] = ["expires": .number(JSONNumber(entry.expires)), "resourceVersion": .string(String(entry.resourceVersion))]
        }
        let text = JSON.object(map).serialized
        guard let existing = snapshot.object else {
            let lease: JSON = [
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": ["name": .string(name), "namespace": .string(namespace), "annotations": [.init(stringLiteral: Self.annotation): .string(text)]],
                "spec": ["holderIdentity": .string(holder)],
            ]
            // AlreadyExists: another replica created it first (the caller reads again, as for a conflict).
            _ = try client.create("/apis/coordination.k8s.io/v1/namespaces/\(namespace)/leases", lease, deadline: deadline)
            return
        }
        var object = existing
        var metadata = object["metadata"]?.object ?? [:]
        var annotations = metadata["annotations"]?.object ?? [:]
        annotations[Self.annotation] = .string(text)
        metadata["annotations"] = .object(annotations)
        metadata.removeValue(forKey: "managedFields")
        if case .object(var o) = object {
            o["metadata"] = .object(metadata)
            var spec = o["spec"]?.object ?? [:]
            spec["holderIdentity"] = .string(holder)
            o["spec"] = .object(spec)
            object = .object(o)
        }
        _ = try client.update(path, object, deadline: deadline)
    }

    /// The entries a Lease object lists. An entry in the earlier format (node -> expiry in Unix seconds)
    /// is read as pending until it expires or the node shows its taint.
    public static func entries(of lease: JSON) -> [String: Entry] {
        guard let text = lease.value(at: "metadata", "annotations")?[annotation]?.string,
            let map = (try? JSON.parse(text))?.object
        else { return [:] }
        var entries: [String: Entry] = [:]
        for (node, value) in map {
            if let expires = value["expires"]?.int {
                let version = value["resourceVersion"]?.string.flatMap { UInt64($0) } ?? UInt64.max
                entries[node] = Entry(expires: Int64(expires), resourceVersion: version)
            } else if let seconds = value.int {
                entries[node] = Entry(expires: Int64(seconds) * 1000, resourceVersion: UInt64.max)
            }
        }
        return entries
    }
}
