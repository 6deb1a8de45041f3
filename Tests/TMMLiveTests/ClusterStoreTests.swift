import Testing
@testable import TMMApp
import TMMJSON
import TMMKube
import TMMPolicy

/// What the live store makes of lists and watch events: node versions, maintenance and its changes,
/// and which admitted entries still count as pending.
@Suite struct ClusterStoreTests {
    static func node(_ name: String, version: Int, taint: String? = nil, effect: String = "NoSchedule") -> JSON {
        let taints: JSON = taint.map { [["key": "drain", "value": .string($0), "effect": .string(effect)]] } ?? []
        return [
            "kind": "Node", "apiVersion": "v1",
            "metadata": ["name": .string(name), "resourceVersion": .string(String(version))],
            "spec": ["taints": taints],
            "status": ["conditions": [["type": "Ready", "status": "True"]]],
        ]
    }

    static func list(_ items: [JSON]) -> [UInt8] {
        let list: JSON = ["kind": "NodeList", "apiVersion": "v1", "metadata": ["resourceVersion": "100"], "items": .array(items)]
        return Array(list.serialized.utf8)
    }

    static func store() -> ClusterStore { ClusterStore(keptAnnotationKeys: ["emm-failure"], taintKeys: ["drain"]) }

    @Test func theFirstListIsTheStartingPointAndLaterChangesAreTransitions() throws {
        var store = Self.store()
        store.beginList(.nodes)
        try store.mergeListPage(.nodes, page: Self.list([Self.node("n1", version: 10, taint: "drain"), Self.node("n2", version: 11)]))
        #expect(store.endList(.nodes) == (objects: 2, removed: 0))
        #expect(store.inMaintenance == ["n1"])
        #expect(store.version(ofNode: "n2") == 11)
        #expect(store.takeTransitions().isEmpty, "what the first list shows is not a change")

        try store.apply(.nodes, event: KubeWatchEvent(type: .modified, object: Self.node("n1", version: 20)))
        try store.apply(.nodes, event: KubeWatchEvent(type: .modified, object: Self.node("n2", version: 21, taint: "planned-downtime")))
        try store.apply(.nodes, event: KubeWatchEvent(type: .modified, object: Self.node("n2", version: 22, taint: "drain")))
        #expect(store.takeTransitions() == [.left(node: "n1"), .entered(node: "n2", resourceVersion: 21)], "an escalation is no transition")
        #expect(store.takeTransitions().isEmpty, "handed on once")
        #expect(store.version(ofNode: "n2") == 22)

        // A relist that no longer holds n2 (deleted while the watch was down): it left.
        store.beginList(.nodes)
        try store.mergeListPage(.nodes, page: Self.list([Self.node("n1", version: 20)]))
        #expect(store.endList(.nodes) == (objects: 1, removed: 1))
        #expect(store.takeTransitions() == [.left(node: "n2")])
    }

    @Test func aTaintWithAnotherKeyOrValueIsNotMaintenance() throws {
        var store = Self.store()
        store.beginList(.nodes)
        try store.mergeListPage(.nodes, page: Self.list([Self.node("n1", version: 10, taint: "something-else")]))
        _ = store.endList(.nodes)
        #expect(store.inMaintenance.isEmpty)
    }

    /// An admitted entry counts until the cluster shows what became of it, and never past its expiry.
    @Test(arguments: [
        // (node version now, in maintenance, expires in ms from now, pending)
        (UInt64(50), false, Int64(5_000), true),  // not yet stored
        (UInt64(50), true, Int64(5_000), false),  // stored: in maintenance, counted as such
        (UInt64(51), false, Int64(5_000), false),  // updated after the admission without the taint: dropped, or left already
        (UInt64(50), false, Int64(-1), false),  // expired: the API server has stored or dropped it by now
        (UInt64(0), false, Int64(5_000), true),  // a node whose version is unknown (0) is older than any admission
    ])
    func pendingUntilTheClusterShowsTheOutcome(version: UInt64, inMaintenance: Bool, expiresIn: Int64, pending: Bool) {
        let entry = EntryLedger.Entry(expires: 1_000_000 + expiresIn, resourceVersion: 50)
        #expect(entry.isPending(nodeVersion: version, inMaintenance: inMaintenance, nowMillis: 1_000_000) == pending)
    }

    @Test func aNodeThatIsGoneIsNotPending() {
        let entry = EntryLedger.Entry(expires: 2_000_000, resourceVersion: 50)
        #expect(!entry.isPending(nodeVersion: nil, inMaintenance: false, nowMillis: 1_000_000))
    }

    @Test func theLeaseIsReadInBothFormats() throws {
        let text = #"{"n1":{"expires":1700000000000,"resourceVersion":"42"},"n2":1700000000}"#
        let lease: JSON = ["metadata": ["annotations": [.init(stringLiteral: EntryLedger.annotation): .string(text)]]]
        let entries = EntryLedger.entries(of: lease)
        #expect(entries["n1"] == EntryLedger.Entry(expires: 1_700_000_000_000, resourceVersion: 42))
        #expect(entries["n2"] == EntryLedger.Entry(expires: 1_700_000_000_000, resourceVersion: .max), "the earlier format: pending until the taint shows or it expires")
    }

    @Test func volumesAndClaimsAreListedWatchedAndRemoved() throws {
        var store = Self.store()
        let pv: JSON = [
            "kind": "PersistentVolume", "apiVersion": "v1", "metadata": ["name": "local-n1", "resourceVersion": "5"],
            "spec": ["nodeAffinity": ["required": ["nodeSelectorTerms": [["matchExpressions": [["key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"]]]]]]]],
        ]
        let pvc: JSON = [
            "kind": "PersistentVolumeClaim", "apiVersion": "v1", "metadata": ["name": "data-db-0", "namespace": "store", "resourceVersion": "6"],
            "spec": ["volumeName": "local-n1"],
        ]
        store.beginList(.persistentvolumes)
        try store.mergeListPage(.persistentvolumes, page: Array(JSON.object(["kind": "PersistentVolumeList", "items": [pv]]).serialized.utf8))
        #expect(store.endList(.persistentvolumes) == (objects: 1, removed: 0))
        try store.apply(.persistentvolumeclaims, event: KubeWatchEvent(type: .added, object: pvc))
        #expect(store.cluster.persistentVolumeClaim(namespace: "store", name: "data-db-0")?.volumeName == "local-n1")
        #expect(store.cluster.persistentVolume(named: "local-n1") != nil)
        try store.apply(.persistentvolumeclaims, event: KubeWatchEvent(type: .deleted, object: pvc))
        #expect(store.cluster.persistentVolumeClaim(namespace: "store", name: "data-db-0") == nil)
        store.beginList(.persistentvolumes)
        try store.mergeListPage(.persistentvolumes, page: Array(JSON.object(["kind": "PersistentVolumeList", "items": []]).serialized.utf8))
        #expect(store.endList(.persistentvolumes) == (objects: 0, removed: 1))
        #expect(store.cluster.persistentVolume(named: "local-n1") == nil)
    }
}
