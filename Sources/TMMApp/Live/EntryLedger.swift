import Logging
import TMMJSON
import TMMKube
import TMMTransport

/// The admitted entries every replica agrees on, kept in a `coordination.k8s.io/v1` Lease in the
/// webhook's namespace (annotation `tmm-webhook.io/admitted-entries`: node -> expiry, Unix seconds).
///
/// Admission is a compare-and-swap on the Lease's resourceVersion: read, decide with the entries it
/// lists, write back with the same resourceVersion. A 409 means another replica admitted something in
/// between: read again and decide again. So two replicas racing for the last slot admit exactly one.
struct EntryLedger: Sendable {
    let client: KubeClient
    let namespace: String
    let name: String
    let holder: String
    static let annotation = "tmm-webhook.io/admitted-entries"

    var path: String { "/apis/coordination.k8s.io/v1/namespaces/\(namespace)/leases/\(name)" }

    /// The Lease as read: its object (to write back) and the unexpired entries.
    struct Snapshot: Sendable {
        var object: JSON
        var entries: [String: Int64]
    }

    /// Reads the Lease, creating it when missing.
    func read(now: Int64, deadline: UInt64) throws(KubeError) -> Snapshot {
        while true {
            do throws(KubeError) {
                let object = try client.get(path, deadline: deadline)
                return Snapshot(object: object, entries: Self.entries(of: object, now: now))
            } catch where error.isNotFound {
                let lease: JSON = [
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": ["name": .string(name), "namespace": .string(namespace), "annotations": [Self.annotation: "{}"]],
                    "spec": ["holderIdentity": .string(holder)],
                ]
                do throws(KubeError) {
                    let created = try client.create(
                        "/apis/coordination.k8s.io/v1/namespaces/\(namespace)/leases", lease, deadline: deadline)
                    return Snapshot(object: created, entries: [:])
                } catch where error.isAlreadyExists {
                    continue  // another replica made it first: read theirs
                }
            }
        }
    }

    /// Writes `entries` back with the snapshot's resourceVersion; throws `isConflict` when it moved.
    func write(_ snapshot: Snapshot, entries: [String: Int64], deadline: UInt64) throws(KubeError) {
        var object = snapshot.object
        var metadata = object["metadata"]?.object ?? [:]
        var annotations = metadata["annotations"]?.object ?? [:]
        var map: [String: JSON] = [:]
        for (node, expiry) in entries { map[node] = .number(JSONNumber(expiry)) }
        annotations[Self.annotation] = .string(JSON.object(map).serialized)
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

    static func entries(of lease: JSON, now: Int64) -> [String: Int64] {
        guard let text = lease.value(at: "metadata", "annotations")?[annotation]?.string,
            let map = (try? JSON.parse(text))?.object
        else { return [:] }
        var entries: [String: Int64] = [:]
        for (node, value) in map {
            if let expiry = value.int, expiry > now { entries[node] = expiry }
        }
        return entries
    }
}
