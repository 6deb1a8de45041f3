public import TMMJSON

extension ClusterState {
    /// Builds a state from JSON documents: each a `v1` `List` of mixed kinds (as
    /// `kubectl get nodes,pods,pdb -A -o json` prints), a `NodeList`/`PodList`/`PodDisruptionBudgetList`,
    /// or a single Node, Pod or PodDisruptionBudget. Later documents replace earlier objects of the same name.
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

    /// Reads a ResourceList's cpu, memory and pods.
    static func resources(_ s: inout JSONScanner) throws(JSONError) -> (cpu: Int64?, memory: Int64?, pods: Int64?) {
        var out: (cpu: Int64?, memory: Int64?, pods: Int64?) = (nil, nil, nil)
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
            } else {
                try s.skipValue()
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
        var capacity: (cpu: Int64?, memory: Int64?, pods: Int64?) = (nil, nil, nil)
        var allocatable: (cpu: Int64?, memory: Int64?, pods: Int64?) = (nil, nil, nil)
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
            pods: allocatable.pods ?? capacity.pods ?? 110)
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
        try RawObject.each(spec) { (s, key) throws(JSONError) in
            if key.equals("nodeName") {
                pod.nodeName = try s.readOptionalString().flatMap { $0.isEmpty ? nil : $0 }
            } else if key.equals("containers") {
                try RawObject.array(&s) { (s) throws(JSONError) in
                    containers = containers + (try RawObject.container(&s)).requests
                }
            } else if key.equals("initContainers") {
                // The scheduler's rule: restartable (sidecar) init containers add up and keep running;
                // the others run one at a time on top of the sidecars started before them.
                try RawObject.array(&s) { (s) throws(JSONError) in
                    let c = try RawObject.container(&s)
                    let step: Resources
                    if c.sidecar {
                        sidecars = sidecars + c.requests
                        step = sidecars
                    } else {
                        step = c.requests + sidecars
                    }
                    initMax = Resources(
                        cpuMillis: max(initMax.cpuMillis, step.cpuMillis),
                        memoryBytes: max(initMax.memoryBytes, step.memoryBytes))
                }
            } else if key.equals("overhead") {
                let r = try RawObject.resources(&s)
                overhead = Resources(cpuMillis: r.cpu ?? 0, memoryBytes: r.memory ?? 0)
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
                pod.requiredNodeAffinity = try RawObject.requiredNodeAffinity(&s)
            } else {
                try s.skipValue()
            }
        }
        let running = containers + sidecars
        pod.requests = Resources(
            cpuMillis: max(running.cpuMillis, initMax.cpuMillis) + overhead.cpuMillis,
            memoryBytes: max(running.memoryBytes, initMax.memoryBytes) + overhead.memoryBytes, pods: 1)
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

    /// One container's effective requests (limits stand in for missing requests, as API defaulting does).
    static func container(_ s: inout JSONScanner) throws(JSONError) -> (requests: Resources, sidecar: Bool) {
        var requests: (cpu: Int64?, memory: Int64?, pods: Int64?) = (nil, nil, nil)
        var limits: (cpu: Int64?, memory: Int64?, pods: Int64?) = (nil, nil, nil)
        var sidecar = false
        try s.readObject { (s, key) throws(JSONError) in
            if key.equals("resources") {
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
            cpuMillis: requests.cpu ?? limits.cpu ?? 0, memoryBytes: requests.memory ?? limits.memory ?? 0)
        return (r, sidecar)
    }

    static func requiredNodeAffinity(_ s: inout JSONScanner) throws(JSONError) -> [NodeSelectorTerm] {
        var terms: [NodeSelectorTerm] = []
        try each(try s.rawValue()) { (s, key) throws(JSONError) in
            guard key.equals("nodeAffinity") else { return try s.skipValue() }
            try each(try s.rawValue()) { (s, key) throws(JSONError) in
                guard key.equals("requiredDuringSchedulingIgnoredDuringExecution") else { return try s.skipValue() }
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
