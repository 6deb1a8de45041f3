/// Interns strings (label keys and values, namespaces) as dense `Int32` ids, so 150,000 pods share
/// one copy of each distinct string.
struct StringTable: Sendable {
    private(set) var strings: [String] = []
    private var ids: [String: Int32] = [:]

    /// The id of `s`, adding it when new.
    mutating func intern(_ s: String) -> Int32 {
        if let id = ids[s] { return id }
        let id = Int32(strings.count)
        strings.append(s)
        ids[s] = id
        return id
    }

    /// The id of `s`, or -1 when it was never interned (so it matches no label).
    func lookup(_ s: String) -> Int32 { ids[s] ?? -1 }

    subscript(id: Int32) -> String { strings[Int(id)] }
}

/// A label set as sorted `(key id << 32 | value id)` pairs.
struct LabelSet: Sendable, Hashable {
    var pairs: [UInt64] = []

    init() {}

    init(_ labels: [String: String], table: inout StringTable) {
        pairs = labels.map { UInt64(UInt32(table.intern($0.key))) << 32 | UInt64(UInt32(table.intern($0.value))) }
        pairs.sort()
    }

    /// The value id for key id `key`, if present.
    @inline(__always)
    func value(_ key: Int32) -> Int32? {
        if key < 0 { return nil }
        let k = UInt32(key)
        for p in pairs {
            let pk = UInt32(truncatingIfNeeded: p >> 32)
            if pk == k { return Int32(bitPattern: UInt32(truncatingIfNeeded: p)) }
            if pk > k { return nil }
        }
        return nil
    }

    func dictionary(_ table: StringTable) -> [String: String] {
        var out: [String: String] = [:]
        for p in pairs {
            out[table[Int32(bitPattern: UInt32(truncatingIfNeeded: p >> 32))]] =
                table[Int32(bitPattern: UInt32(truncatingIfNeeded: p))]
        }
        return out
    }
}

/// A ``LabelRequirement`` with its strings replaced by ids of one ``StringTable``.
struct CompiledRequirement: Sendable, Hashable {
    var key: Int32
    var op: LabelRequirement.Operator
    var values: [Int32]
    /// For `Gt`/`Lt`: the bound.
    var bound: Int64

    init(_ r: LabelRequirement, table: inout StringTable) {
        key = table.intern(r.key)
        op = r.operator
        values = r.values.map { table.intern($0) }
        bound = r.values.first.flatMap { Int64($0) } ?? 0
    }

    init(lookup r: LabelRequirement, table: StringTable) {
        key = table.lookup(r.key)
        op = r.operator
        values = r.values.map { table.lookup($0) }.filter { $0 >= 0 }
        bound = r.values.first.flatMap { Int64($0) } ?? 0
    }

    @inline(__always)
    func matches(_ labels: LabelSet, _ table: StringTable) -> Bool {
        let v = labels.value(key)
        switch op {
        case .in: return v.map(values.contains) ?? false
        case .notIn: return v.map { !values.contains($0) } ?? true
        case .exists: return v != nil
        case .doesNotExist: return v == nil
        case .gt, .lt:
            guard let v, let have = Int64(table[v]) else { return false }
            return op == .gt ? have > bound : have < bound
        }
    }
}

/// A compiled ``LabelSelector``.
struct CompiledSelector: Sendable, Hashable {
    var requirements: [CompiledRequirement]

    init(_ s: LabelSelector, table: inout StringTable) {
        requirements = s.requirements.map { CompiledRequirement($0, table: &table) }
    }

    init(lookup s: LabelSelector, table: StringTable) {
        requirements = s.requirements.map { CompiledRequirement(lookup: $0, table: table) }
    }

    @inline(__always)
    func matches(_ labels: LabelSet, _ table: StringTable) -> Bool {
        for r in requirements where !r.matches(labels, table) { return false }
        return true
    }
}
