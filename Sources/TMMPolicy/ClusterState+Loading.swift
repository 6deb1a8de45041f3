public import TMMJSON

extension ClusterState {
    /// Builds a state from JSON documents: each a `v1` `List` of mixed kinds (as
    /// `kubectl get nodes,pods,pdb,pv,pvc -A -o json` prints), a `NodeList`/`PodList`/
    /// `PodDisruptionBudgetList`/`PersistentVolumeList`/`PersistentVolumeClaimList`, or a single object
    /// of those kinds. Later documents replace earlier objects of the same name.
    public static func load(
        from documents: [[UInt8]], keptAnnotationKeys: Set<String> = ClusterState.defaultKeptAnnotationKeys
    ) throws(PolicyError) -> ClusterState {
        var state = ClusterState(keptAnnotationKeys: keptAnnotationKeys)
        for document in documents { try state.merge(json: document) }
        return state
    }

    /// Builds a state from parsed documents (see ``load(from:keptAnnotationKeys:)-([[UInt8]],_)``).
    public static func load(
        from documents: [JSON], keptAnnotationKeys: Set<String> = ClusterState.defaultKeptAnnotationKeys
    ) throws(PolicyError) -> ClusterState {
        try load(from: documents.map { Array($0.serialized.utf8) }, keptAnnotationKeys: keptAnnotationKeys)
    }

    /// Merges one JSON document (a list or a single object) into this state.
    public mutating func merge(json bytes: [UInt8]) throws(PolicyError) {
        var ignored = MergedObjects()
        try merge(json: bytes, recording: &ignored)
    }

    /// What a merge added or replaced, so a relist can remove what the server no longer has.
    public struct MergedObjects: Sendable {
        public var nodes: Set<String> = []
        public var pods: Set<PodRef> = []
        public var budgets: Set<PodRef> = []
        public var persistentVolumes: Set<String> = []
        public var persistentVolumeClaims: Set<PodRef> = []
        public init() {}
    }

    /// Merges one JSON document and records the objects it held.
    public mutating func merge(json bytes: [UInt8], recording merged: inout MergedObjects) throws(PolicyError) {
        do {
            try bytes.withUnsafeBytes { buffer in try merge(buffer, recording: &merged) }
        } catch {
            throw PolicyError(.state, "cannot read the cluster state: \(error)")
        }
    }

    private mutating func merge(_ buffer: UnsafeRawBufferPointer, recording merged: inout MergedObjects) throws(JSONError) {
        var scanner = JSONScanner(buffer)
        let object = try RawObject(&scanner)
        try scanner.expectEnd()
        if let items = object.items {
            // `PodList` items are Pods; a plain `List` names each item's kind (or we guess from its shape).
            let listKind = object.kind.flatMap { $0.hasSuffix("List") && $0 != "List" ? String($0.dropLast(4)) : nil }
            var itemScanner = JSONScanner(items)
            if try itemScanner.peekKind() == .null { return }
            try itemScanner.readArray { (s) throws(JSONError) in
                try self.add(try RawObject(&s), defaultKind: listKind, recording: &merged)
            }
        } else {
            try add(object, defaultKind: nil, recording: &merged)
        }
    }

    private mutating func add(_ object: RawObject, defaultKind: String?, recording merged: inout MergedObjects) throws(JSONError) {
        switch object.kind ?? defaultKind ?? object.guessedKind {
        case "Node":
            let node = try object.node()
            merged.nodes.insert(node.name)
            upsert(node: node)
        case "Pod":
            let pod = try object.pod(keeping: keptAnnotationKeys)
            merged.pods.insert(PodRef(namespace: pod.namespace, name: pod.name))
            upsert(pod: pod)
        case "PodDisruptionBudget":
            let budget = try object.budget()
            merged.budgets.insert(PodRef(namespace: budget.namespace, name: budget.name))
            upsert(budget: budget)
        case "PersistentVolume":
            let volume = try object.persistentVolume()
            merged.persistentVolumes.insert(volume.name)
            upsert(persistentVolume: volume)
        case "PersistentVolumeClaim":
            let claim = try object.persistentVolumeClaim()
            merged.persistentVolumeClaims.insert(PodRef(namespace: claim.namespace, name: claim.name))
            upsert(persistentVolumeClaim: claim)
        default: break  // other kinds in a List are ignored
        }
    }
}

extension Node {
    /// Reads a Node object (unknown fields ignored).
    public init(json: JSON) throws(PolicyError) {
        self = try RawObject.decode(json) { (o) throws(JSONError) in try o.node() }
    }
}

extension Pod {
    /// Reads a Pod object, keeping the annotations named in `keptAnnotationKeys`.
    public init(json: JSON, keptAnnotationKeys: Set<String> = ClusterState.defaultKeptAnnotationKeys) throws(PolicyError) {
        self = try RawObject.decode(json) { (o) throws(JSONError) in try o.pod(keeping: keptAnnotationKeys) }
    }
}

extension PersistentVolume {
    /// Reads a PersistentVolume object (unknown fields ignored).
    public init(json: JSON) throws(PolicyError) {
        self = try RawObject.decode(json) { (o) throws(JSONError) in try o.persistentVolume() }
    }
}

extension PersistentVolumeClaim {
    /// Reads a PersistentVolumeClaim object (unknown fields ignored).
    public init(json: JSON) throws(PolicyError) {
        self = try RawObject.decode(json) { (o) throws(JSONError) in try o.persistentVolumeClaim() }
    }
}

extension DisruptionBudget {
    /// Reads a PodDisruptionBudget object (policy/v1).
    public init(json: JSON) throws(PolicyError) {
        self = try RawObject.decode(json) { (o) throws(JSONError) in try o.budget() }
    }
}

/// The top-level members of one Kubernetes object, as byte ranges of a buffer the caller keeps alive,
/// so the kind may come after the fields that depend on it.
struct RawObject {
    var kind: String?
    var metadata: UnsafeRawBufferPointer?
    var spec: UnsafeRawBufferPointer?
    var status: UnsafeRawBufferPointer?
    var items: UnsafeRawBufferPointer?

    init(_ s: inout JSONScanner) throws(JSONError) {
        var kind: String?
        var metadata: UnsafeRawBufferPointer?
        var spec: UnsafeRawBufferPointer?
        var status: UnsafeRawBufferPointer?
        var items: UnsafeRawBufferPointer?
        try s.readObject { (s, key) throws(JSONError) in
            if key.equals("kind") {
                kind = try s.readOptionalString()
            } else if key.equals("metadata") {
                metadata = try s.rawValue()
            } else if key.equals("spec") {
                spec = try s.rawValue()
            } else if key.equals("status") {
                status = try s.rawValue()
            } else if key.equals("items") {
                items = try s.rawValue()
            } else {
                try s.skipValue()
            }
        }
        self.kind = kind
        self.metadata = metadata
        self.spec = spec
        self.status = status
        self.items = items
    }

    static func decode<T>(_ json: JSON, _ body: (RawObject) throws(JSONError) -> T) throws(PolicyError) -> T {
        let bytes = Array(json.serialized.utf8)
        do {
            return try bytes.withUnsafeBytes { buffer -> T in
                var s = JSONScanner(buffer)
                return try body(try RawObject(&s))
            }
        } catch {
            throw PolicyError(.state, "cannot read the object: \(error)")
        }
    }

    /// A kind for an item of an untyped list without `kind`, from its shape.
    var guessedKind: String {
        guard let spec else { return "" }
        var s = JSONScanner(spec)
        var kind = ""
        try? s.readObject { (s, key) throws(JSONError) in
            if key.equals("containers") || key.equals("nodeName") { kind = "Pod" }
            if key.equals("minAvailable") || key.equals("maxUnavailable") || key.equals("selector") {
                kind = "PodDisruptionBudget"
            }
            if key.equals("taints") || key.equals("podCIDR") || key.equals("unschedulable") { kind = "Node" }
            if key.equals("persistentVolumeReclaimPolicy") || key.equals("claimRef") || key.equals("capacity") {
                kind = "PersistentVolume"
            }
            if key.equals("volumeName") || key.equals("resources") { kind = "PersistentVolumeClaim" }
            try s.skipValue()
        }
        return kind
    }

    // MARK: Shared pieces

    static func each(_ range: UnsafeRawBufferPointer?, _ body: (inout JSONScanner, UnsafeRawBufferPointer) throws(JSONError) -> Void) throws(JSONError) {
        guard let range else { return }
        var s = JSONScanner(range)
        if try s.peekKind() == .null { return }
        try s.readObject(body)
    }

    static func stringMap(_ s: inout JSONScanner) throws(JSONError) -> [String: String] {
        var map: [String: String] = [:]
        if try s.peekKind() == .null {
            try s.readNull()
            return map
        }
        try s.readObject { (s, key) throws(JSONError) in
            if let v = try s.readOptionalString() { map[key.string] = v }
        }
        return map
    }

    static func array(_ s: inout JSONScanner, _ body: (inout JSONScanner) throws(JSONError) -> Void) throws(JSONError) {
        if try s.peekKind() == .null {
            try s.readNull()
            return
        }
        try s.readArray(body)
    }

    static func quantity(_ s: inout JSONScanner) throws(JSONError) -> Quantity? {
        let at = s.offset
        let text: String
        switch try s.peekKind() {
        case .string: text = try s.readString()
        case .number: text = try s.readNumber().description
        default:
            try s.skipValue()
            return nil
        }
        do { return try Quantity(text) } catch { throw JSONError(.type, at: at, error.message) }
    }

    /// Reads a ResourceList: cpu, memory, pods, ephemeral storage and extended resources (any other
    /// name but `attachable-volumes-*`, which the scheduler does not fit).
    static func resources(_ s: inout JSONScanner) throws(JSONError) -> ResourceList {
        var out = ResourceList()
        if try s.peekKind() == .null {
            try s.readNull()
            return out
        }
        try s.readObject { (s, key) throws(JSONError) in
            if key.equals("cpu") {
                out.cpu = try quantity(&s)?.milliValue
            } else if key.equals("memory") {
                out.memory = try quantity(&s)?.value
            } else if key.equals("pods") {
                out.pods = try quantity(&s)?.value
            } else if key.equals("ephemeral-storage") {
                out.ephemeral = try quantity(&s)?.value
            } else {
                let name = key.string
                if name.hasPrefix("attachable-volumes-") { return try s.skipValue() }
                if let v = try quantity(&s)?.value { out.extended[name] = v }
            }
        }
        return out
    }

    static func conditionTrue(_ s: inout JSONScanner, type wanted: StaticString) throws(JSONError) -> Bool? {
        var result: Bool?
        try array(&s) { (s) throws(JSONError) in
            var type: String?
            var status: String?
            try s.readObject { (s, key) throws(JSONError) in
                if key.equals("type") {
                    type = try s.readOptionalString()
                } else if key.equals("status") {
                    status = try s.readOptionalString()
                } else {
                    try s.skipValue()
                }
            }
            if type == "\(wanted)" { result = status == "True" }
        }
        return result
    }

    static func requirement(_ s: inout JSONScanner) throws(JSONError) -> LabelRequirement {
        var key = ""
        var op = ""
        var values: [String] = []
        let at = s.offset
        try s.readObject { (s, k) throws(JSONError) in
            if k.equals("key") {
                key = try s.readOptionalString() ?? ""
            } else if k.equals("operator") {
                op = try s.readOptionalString() ?? ""
            } else if k.equals("values") {
                try array(&s) { (s) throws(JSONError) in values.append(try s.readString()) }
            } else {
                try s.skipValue()
            }
        }
        guard let o = LabelRequirement.Operator(rawValue: op) else {
            throw JSONError(.type, at: at, "unknown selector operator '\(op)' for key '\(key)'")
        }
        return LabelRequirement(key, o, values)
    }

    func metadata(_ body: (inout JSONScanner, UnsafeRawBufferPointer) throws(JSONError) -> Void) throws(JSONError) {
        try RawObject.each(metadata, body)
    }

    // MARK: Kinds

    func node() throws(JSONError) -> Node {
        var node = Node(name: "", ready: false, allocatable: .zero)
        try metadata { (s, key) throws(JSONError) in
            if key.equals("name") {
                node.name = try s.readString()
            } else if key.equals("labels") {
                node.labels = try RawObject.stringMap(&s)
            } else {
                try s.skipValue()
            }
        }
        try RawObject.each(spec) { (s, key) throws(JSONError) in
            if key.equals("unschedulable") {
                if try s.peekKind() == .bool { node.unschedulable = try s.readBool() } else { try s.skipValue() }
            } else if key.equals("taints") {
                try RawObject.array(&s) { (s) throws(JSONError) in node.taints.append(try Taint.read(&s)) }
            } else {
                try s.skipValue()
            }
        }
        var capacity = ResourceList()
        var allocatable = ResourceList()
        try RawObject.each(status) { (s, key) throws(JSONError) in
            if key.equals("allocatable") {
                allocatable = try RawObject.resources(&s)
            } else if key.equals("capacity") {
                capacity = try RawObject.resources(&s)
            } else if key.equals("conditions") {
                node.ready = try RawObject.conditionTrue(&s, type: "Ready") ?? false
            } else {
                try s.skipValue()
            }
        }
        node.allocatable = Resources(
            cpuMillis: allocatable.cpu ?? capacity.cpu ?? 0, memoryBytes: allocatable.memory ?? capacity.memory ?? 0,
            pods: allocatable.pods ?? capacity.pods ?? 110,
            ephemeralStorageBytes: allocatable.ephemeral ?? capacity.ephemeral ?? 0)
        node.extendedAllocatable = capacity.extended.merging(allocatable.extended) { _, a in a }
        return node
    }

    func pod(keeping kept: Set<String>) throws(JSONError) -> Pod {
        var pod = Pod(namespace: "default", name: "", nodeName: nil, phase: .pending, ready: false)
        try metadata { (s, key) throws(JSONError) in
            if key.equals("name") {
                pod.name = try s.readString()
            } else if key.equals("namespace") {
                pod.namespace = try s.readOptionalString() ?? "default"
            } else if key.equals("labels") {
                pod.labels = try RawObject.stringMap(&s)
            } else if key.equals("annotations") {
                try RawObject.each(try s.rawValue()) { (s, k) throws(JSONError) in
                    if k.equals("kubernetes.io/config.mirror") {
                        pod.mirror = true
                        try s.skipValue()
                    } else if kept.contains(k.string), let v = try s.readOptionalString() {
                        pod.annotations[k.string] = v
                    } else {
                        try s.skipValue()
                    }
                }
            } else if key.equals("ownerReferences") {
                try RawObject.array(&s) { (s) throws(JSONError) in
                    var kind = ""
                    var controller = false
                    try s.readObject { (s, k) throws(JSONError) in
                        if k.equals("kind") {
                            kind = try s.readOptionalString() ?? ""
                        } else if k.equals("controller"), try s.peekKind() == .bool {
                            controller = try s.readBool()
                        } else {
                            try s.skipValue()
                        }
                    }
                    if kind == "DaemonSet" && controller { pod.daemonSetOwned = true }
                }
            } else {
                try s.skipValue()
            }
        }
        var containers = Resources.zero
        var initMax = Resources.zero
        var sidecars = Resources.zero
        var overhead = Resources.zero
        var extContainers: [String: Int64] = [:]
        var extInitMax: [String: Int64] = [:]
        var extSidecars: [String: Int64] = [:]
        var extOverhead: [String: Int64] = [:]
        var affinity: (UnsafeRawBufferPointer?, UnsafeRawBufferPointer?) = (nil, nil)
        var spread: UnsafeRawBufferPointer?
        try RawObject.each(spec) { (s, key) throws(JSONError) in
            if key.equals("nodeName") {
                pod.nodeName = try s.readOptionalString().flatMap { $0.isEmpty ? nil : $0 }
            } else if key.equals("containers") {
                try RawObject.array(&s) { (s) throws(JSONError) in
                    let c = try RawObject.container(&s)
                    containers = containers + c.requests
                    extContainers.merge(c.extended, uniquingKeysWith: +)
                    pod.hostPorts += c.ports
                }
            } else if key.equals("initContainers") {
                // The scheduler's rule: restartable (sidecar) init containers add up and keep running;
                // the others run one at a time on top of the sidecars started before them.
                try RawObject.array(&s) { (s) throws(JSONError) in
                    let c = try RawObject.container(&s)
                    let step: Resources
                    var extStep: [String: Int64]
                    if c.sidecar {
                        sidecars = sidecars + c.requests
                        extSidecars.merge(c.extended, uniquingKeysWith: +)
                        step = sidecars
                        extStep = extSidecars
                        pod.hostPorts += c.ports
                    } else {
                        step = c.requests + sidecars
                        extStep = c.extended.merging(extSidecars, uniquingKeysWith: +)
                    }
                    initMax = Resources(
                        cpuMillis: max(initMax.cpuMillis, step.cpuMillis),
                        memoryBytes: max(initMax.memoryBytes, step.memoryBytes),
                        ephemeralStorageBytes: max(initMax.ephemeralStorageBytes, step.ephemeralStorageBytes))
                    extInitMax.merge(extStep, uniquingKeysWith: max)
                }
            } else if key.equals("overhead") {
                let r = try RawObject.resources(&s)
                overhead = Resources(cpuMillis: r.cpu ?? 0, memoryBytes: r.memory ?? 0, ephemeralStorageBytes: r.ephemeral ?? 0)
                extOverhead = r.extended
            } else if key.equals("volumes") {
                try RawObject.array(&s) { (s) throws(JSONError) in
                    if let claim = try RawObject.volumeClaim(&s) { pod.claims.append(claim) }
                }
            } else if key.equals("topologySpreadConstraints") {
                spread = try s.rawValue()
            } else if key.equals("nodeSelector") {
                pod.nodeSelector = try RawObject.stringMap(&s)
            } else if key.equals("tolerations") {
                try RawObject.array(&s) { (s) throws(JSONError) in
                    var t = Toleration()
                    try s.readObject { (s, k) throws(JSONError) in
                        if k.equals("key") {
                            t.key = try s.readOptionalString() ?? ""
                        } else if k.equals("operator") {
                            t.operator = try s.readOptionalString() == "Exists" ? .exists : .equal
                        } else if k.equals("value") {
                            t.value = try s.readOptionalString() ?? ""
                        } else if k.equals("effect") {
                            t.effect = try s.readOptionalString() ?? ""
                        } else {
                            try s.skipValue()
                        }
                    }
                    pod.tolerations.append(t)
                }
            } else if key.equals("affinity") {
                let raw = try s.rawValue()
                var copy = JSONScanner(raw)
                pod.requiredNodeAffinity = try RawObject.requiredNodeAffinity(&copy)
                affinity = try RawObject.podAffinity(raw)
            } else {
                try s.skipValue()
            }
        }
        // Claims of generic ephemeral volumes are named `<pod>-<volume>`; the pod's name is known now.
        pod.claims = pod.claims.map { $0.hasPrefix("\u{0}") ? pod.name + "-" + $0.dropFirst() : $0 }
        // Pod (anti-)affinity and spread read the pod's own labels (matchLabelKeys), known now too.
        if let a = affinity.0 { pod.podAffinity = try RawObject.podAffinityTerms(a, labels: pod.labels) }
        if let a = affinity.1 { pod.podAntiAffinity = try RawObject.podAffinityTerms(a, labels: pod.labels) }
        if let spread { pod.topologySpread = try RawObject.spreadConstraints(spread, labels: pod.labels) }
        let running = containers + sidecars
        pod.requests = Resources(
            cpuMillis: max(running.cpuMillis, initMax.cpuMillis) + overhead.cpuMillis,
            memoryBytes: max(running.memoryBytes, initMax.memoryBytes) + overhead.memoryBytes, pods: 1,
            ephemeralStorageBytes: max(running.ephemeralStorageBytes, initMax.ephemeralStorageBytes)
                + overhead.ephemeralStorageBytes)
        var extended = extContainers.merging(extSidecars, uniquingKeysWith: +)
        extended.merge(extInitMax, uniquingKeysWith: max)
        extended.merge(extOverhead, uniquingKeysWith: +)
        pod.extendedRequests = extended.filter { $0.value != 0 }
        try RawObject.each(status) { (s, key) throws(JSONError) in
            if key.equals("phase") {
                pod.phase = Pod.Phase(rawValue: try s.readOptionalString() ?? "") ?? .unknown
            } else if key.equals("conditions") {
                pod.ready = try RawObject.conditionTrue(&s, type: "Ready") ?? false
            } else {
                try s.skipValue()
            }
        }
        return pod
    }

    /// One container's effective requests (limits stand in for missing requests, as API defaulting does)
    /// and host ports.
    static func container(_ s: inout JSONScanner) throws(JSONError) -> (
        requests: Resources, extended: [String: Int64], sidecar: Bool, ports: [HostPort]
    ) {
        var requests = ResourceList()
        var limits = ResourceList()
        var sidecar = false
        var ports: [HostPort] = []
        try s.readObject { (s, key) throws(JSONError) in
            if key.equals("ports") {
                try array(&s) { (s) throws(JSONError) in
                    var port = HostPort(port: 0)
                    try s.readObject { (s, k) throws(JSONError) in
                        if k.equals("hostPort"), try s.peekKind() == .number {
                            port.port = Int32(truncatingIfNeeded: try s.readNumber().int ?? 0)
                        } else if k.equals("protocol") {
                            port.protocol = try s.readOptionalString() ?? "TCP"
                        } else if k.equals("hostIP") {
                            port.hostIP = try s.readOptionalString() ?? ""
                        } else {
                            try s.skipValue()
                        }
                    }
                    if port.port > 0 { ports.append(port) }
                }
            } else if key.equals("resources") {
                try RawObject.each(try s.rawValue()) { (s, k) throws(JSONError) in
                    if k.equals("requests") {
                        requests = try RawObject.resources(&s)
                    } else if k.equals("limits") {
                        limits = try RawObject.resources(&s)
                    } else {
                        try s.skipValue()
                    }
                }
            } else if key.equals("restartPolicy") {
                sidecar = try s.readOptionalString() == "Always"
            } else {
                try s.skipValue()
            }
        }
        let r = Resources(
            cpuMillis: requests.cpu ?? limits.cpu ?? 0, memoryBytes: requests.memory ?? limits.memory ?? 0,
            ephemeralStorageBytes: requests.ephemeral ?? limits.ephemeral ?? 0)
        return (r, limits.extended.merging(requests.extended) { _, r in r }, sidecar, ports)
    }

    /// The claim a pod volume uses: `persistentVolumeClaim.claimName`, or for a generic ephemeral
    /// volume its name after a NUL (the pod's name is prefixed once known).
    static func volumeClaim(_ s: inout JSONScanner) throws(JSONError) -> String? {
        var name: String?
        var claim: String?
        var ephemeral = false
        try s.readObject { (s, k) throws(JSONError) in
            if k.equals("name") {
                name = try s.readOptionalString()
            } else if k.equals("persistentVolumeClaim") {
                try each(try s.rawValue()) { (s, k) throws(JSONError) in
                    if k.equals("claimName") { claim = try s.readOptionalString() } else { try s.skipValue() }
                }
            } else if k.equals("ephemeral") {
                ephemeral = true
                try s.skipValue()
            } else {
                try s.skipValue()
            }
        }
        if let claim { return claim }
        if ephemeral, let name { return "\u{0}" + name }
        return nil
    }

    /// The raw `requiredDuringSchedulingIgnoredDuringExecution` arrays of `podAffinity` and
    /// `podAntiAffinity`.
    static func podAffinity(_ raw: UnsafeRawBufferPointer) throws(JSONError) -> (UnsafeRawBufferPointer?, UnsafeRawBufferPointer?) {
        var out: (UnsafeRawBufferPointer?, UnsafeRawBufferPointer?) = (nil, nil)
        try each(raw) { (s, key) throws(JSONError) in
            let anti = key.equals("podAntiAffinity")
            guard anti || key.equals("podAffinity") else { return try s.skipValue() }
            try each(try s.rawValue()) { (s, key) throws(JSONError) in
                guard key.equals("requiredDuringSchedulingIgnoredDuringExecution") else { return try s.skipValue() }
                if anti { out.1 = try s.rawValue() } else { out.0 = try s.rawValue() }
            }
        }
        return out
    }

    /// A `metav1.LabelSelector`; `null` is nil.
    static func labelSelector(_ s: inout JSONScanner) throws(JSONError) -> LabelSelector? {
        if try s.peekKind() == .null {
            try s.readNull()
            return nil
        }
        var matchLabels: [String: String] = [:]
        var expressions: [LabelRequirement] = []
        try s.readObject { (s, k) throws(JSONError) in
            if k.equals("matchLabels") {
                matchLabels = try stringMap(&s)
            } else if k.equals("matchExpressions") {
                try array(&s) { (s) throws(JSONError) in expressions.append(try requirement(&s)) }
            } else {
                try s.skipValue()
            }
        }
        return LabelSelector(matchLabels: matchLabels, matchExpressions: expressions)
    }

    static func strings(_ s: inout JSONScanner) throws(JSONError) -> [String] {
        var out: [String] = []
        try array(&s) { (s) throws(JSONError) in if let v = try s.readOptionalString() { out.append(v) } }
        return out
    }

    /// Folds `matchLabelKeys` (`key In (own value)`) and `mismatchLabelKeys` (`key NotIn (own value)`)
    /// into a selector, as the API server does when it admits the pod; keys the pod lacks are ignored.
    static func fold(_ selector: LabelSelector?, match: [String], mismatch: [String], labels: [String: String]) -> LabelSelector? {
        guard var selector else { return nil }
        for k in match { if let v = labels[k] { selector.requirements.append(LabelRequirement(k, .in, [v])) } }
        for k in mismatch { if let v = labels[k] { selector.requirements.append(LabelRequirement(k, .notIn, [v])) } }
        return selector
    }

    static func podAffinityTerms(_ raw: UnsafeRawBufferPointer, labels: [String: String]) throws(JSONError) -> [PodAffinityTerm] {
        var s = JSONScanner(raw)
        var terms: [PodAffinityTerm] = []
        try array(&s) { (s) throws(JSONError) in
            var term = PodAffinityTerm(labelSelector: nil, topologyKey: "")
            var match: [String] = []
            var mismatch: [String] = []
            try s.readObject { (s, k) throws(JSONError) in
                if k.equals("labelSelector") {
                    term.labelSelector = try labelSelector(&s)
                } else if k.equals("namespaces") {
                    term.namespaces = try strings(&s)
                } else if k.equals("namespaceSelector") {
                    term.namespaceSelector = try labelSelector(&s)
                } else if k.equals("topologyKey") {
                    term.topologyKey = try s.readOptionalString() ?? ""
                } else if k.equals("matchLabelKeys") {
                    match = try strings(&s)
                } else if k.equals("mismatchLabelKeys") {
                    mismatch = try strings(&s)
                } else {
                    try s.skipValue()
                }
            }
            term.labelSelector = fold(term.labelSelector, match: match, mismatch: mismatch, labels: labels)
            terms.append(term)
        }
        return terms
    }

    static func spreadConstraints(_ raw: UnsafeRawBufferPointer, labels: [String: String]) throws(JSONError) -> [TopologySpreadConstraint] {
        var s = JSONScanner(raw)
        var out: [TopologySpreadConstraint] = []
        try array(&s) { (s) throws(JSONError) in
            var c = TopologySpreadConstraint(maxSkew: 1, topologyKey: "", labelSelector: nil)
            var match: [String] = []
            try s.readObject { (s, k) throws(JSONError) in
                if k.equals("maxSkew"), try s.peekKind() == .number {
                    c.maxSkew = Int(try s.readNumber().int ?? 1)
                } else if k.equals("topologyKey") {
                    c.topologyKey = try s.readOptionalString() ?? ""
                } else if k.equals("whenUnsatisfiable") {
                    c.doNotSchedule = try s.readOptionalString() != "ScheduleAnyway"
                } else if k.equals("labelSelector") {
                    c.labelSelector = try labelSelector(&s)
                } else if k.equals("minDomains"), try s.peekKind() == .number {
                    c.minDomains = try s.readNumber().int.map { Int($0) }
                } else if k.equals("nodeAffinityPolicy") {
                    c.honorNodeAffinity = try s.readOptionalString() != "Ignore"
                } else if k.equals("nodeTaintsPolicy") {
                    c.honorTaints = try s.readOptionalString() == "Honor"
                } else if k.equals("matchLabelKeys") {
                    match = try strings(&s)
                } else {
                    try s.skipValue()
                }
            }
            c.labelSelector = fold(c.labelSelector, match: match, mismatch: [], labels: labels)
            out.append(c)
        }
        return out
    }

    /// A node selector (`nodeSelectorTerms` holder) such as a PersistentVolume's `nodeAffinity.required`.
    static func nodeSelectorTerms(_ s: inout JSONScanner) throws(JSONError) -> [NodeSelectorTerm] {
        var terms: [NodeSelectorTerm] = []
        try each(try s.rawValue()) { (s, key) throws(JSONError) in
            guard key.equals("nodeSelectorTerms") else { return try s.skipValue() }
            try array(&s) { (s) throws(JSONError) in
                var term = NodeSelectorTerm()
                try s.readObject { (s, k) throws(JSONError) in
                    if k.equals("matchExpressions") {
                        try array(&s) { (s) throws(JSONError) in term.matchExpressions.append(try requirement(&s)) }
                    } else if k.equals("matchFields") {
                        try array(&s) { (s) throws(JSONError) in term.matchFields.append(try requirement(&s)) }
                    } else {
                        try s.skipValue()
                    }
                }
                terms.append(term)
            }
        }
        return terms
    }

    static func requiredNodeAffinity(_ s: inout JSONScanner) throws(JSONError) -> [NodeSelectorTerm] {
        var terms: [NodeSelectorTerm] = []
        try each(try s.rawValue()) { (s, key) throws(JSONError) in
            guard key.equals("nodeAffinity") else { return try s.skipValue() }
            try each(try s.rawValue()) { (s, key) throws(JSONError) in
                guard key.equals("requiredDuringSchedulingIgnoredDuringExecution") else { return try s.skipValue() }
                terms = try nodeSelectorTerms(&s)
            }
        }
        return terms
    }

    func budget() throws(JSONError) -> DisruptionBudget {
        var budget = DisruptionBudget(namespace: "default", name: "", selector: nil)
        try metadata { (s, key) throws(JSONError) in
            if key.equals("name") {
                budget.name = try s.readString()
            } else if key.equals("namespace") {
                budget.namespace = try s.readOptionalString() ?? "default"
            } else {
                try s.skipValue()
            }
        }
        func bound(_ s: inout JSONScanner) throws(JSONError) -> IntOrPercent? {
            switch try s.peekKind() {
            case .number:
                guard let n = try s.readNumber().int else { return .invalid("non-integer") }
                return .int(Int(n))
            case .string: return IntOrPercent(string: try s.readString())
            default:
                try s.skipValue()
                return nil
            }
        }
        try RawObject.each(spec) { (s, key) throws(JSONError) in
            if key.equals("minAvailable") {
                budget.minAvailable = try bound(&s)
            } else if key.equals("maxUnavailable") {
                budget.maxUnavailable = try bound(&s)
            } else if key.equals("selector") {
                if try s.peekKind() == .null {
                    try s.readNull()
                    return
                }
                var matchLabels: [String: String] = [:]
                var expressions: [LabelRequirement] = []
                try s.readObject { (s, k) throws(JSONError) in
                    if k.equals("matchLabels") {
                        matchLabels = try RawObject.stringMap(&s)
                    } else if k.equals("matchExpressions") {
                        try RawObject.array(&s) { (s) throws(JSONError) in
                            expressions.append(try RawObject.requirement(&s))
                        }
                    } else {
                        try s.skipValue()
                    }
                }
                budget.selector = LabelSelector(matchLabels: matchLabels, matchExpressions: expressions)
            } else {
                try s.skipValue()
            }
        }
        return budget
    }
}

extension RawObject {
    func persistentVolume() throws(JSONError) -> PersistentVolume {
        var volume = PersistentVolume(name: "")
        try metadata { (s, key) throws(JSONError) in
            if key.equals("name") { volume.name = try s.readString() } else { try s.skipValue() }
        }
        try RawObject.each(spec) { (s, key) throws(JSONError) in
            if key.equals("nodeAffinity") {
                try RawObject.each(try s.rawValue()) { (s, key) throws(JSONError) in
                    guard key.equals("required") else { return try s.skipValue() }
                    volume.nodeAffinity = try RawObject.nodeSelectorTerms(&s)
                }
            } else if key.equals("claimRef") {
                var ref = PodRef(namespace: "default", name: "")
                try RawObject.each(try s.rawValue()) { (s, key) throws(JSONError) in
                    if key.equals("namespace") {
                        ref.namespace = try s.readOptionalString() ?? "default"
                    } else if key.equals("name") {
                        ref.name = try s.readOptionalString() ?? ""
                    } else {
                        try s.skipValue()
                    }
                }
                volume.claim = ref.name.isEmpty ? nil : ref
            } else if key.equals("local") || key.equals("hostPath") {
                volume.local = try s.peekKind() != .null
                try s.skipValue()
            } else {
                try s.skipValue()
            }
        }
        return volume
    }

    func persistentVolumeClaim() throws(JSONError) -> PersistentVolumeClaim {
        var claim = PersistentVolumeClaim(namespace: "default", name: "", volumeName: nil)
        try metadata { (s, key) throws(JSONError) in
            if key.equals("name") {
                claim.name = try s.readString()
            } else if key.equals("namespace") {
                claim.namespace = try s.readOptionalString() ?? "default"
            } else {
                try s.skipValue()
            }
        }
        try RawObject.each(spec) { (s, key) throws(JSONError) in
            if key.equals("volumeName") {
                claim.volumeName = try s.readOptionalString().flatMap { $0.isEmpty ? nil : $0 }
            } else {
                try s.skipValue()
            }
        }
        return claim
    }
}

/// A ResourceList as read: the named resources, and every other one by name.
struct ResourceList {
    var cpu: Int64?
    var memory: Int64?
    var pods: Int64?
    var ephemeral: Int64?
    var extended: [String: Int64] = [:]
}
