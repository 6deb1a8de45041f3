/// Builds compact JSON text into a byte array, without intermediate values.
///
/// The caller is responsible for the structure (commas are inserted automatically between members and
/// elements written through this API).
public struct JSONWriter: Sendable {
    public private(set) var bytes: [UInt8]
    private var needsComma: [Bool] = []

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// The text written so far.
    public var string: String { String(decoding: bytes, as: UTF8.self) }

    private mutating func separate() {
        if let last = needsComma.last {
            if last { bytes.append(UInt8(ascii: ",")) }
            needsComma[needsComma.count - 1] = true
        }
    }

    public mutating func beginObject() {
        beforeValue()
        bytes.append(UInt8(ascii: "{"))
        needsComma.append(false)
    }

    public mutating func endObject() {
        needsComma.removeLast()
        bytes.append(UInt8(ascii: "}"))
    }

    public mutating func beginArray() {
        beforeValue()
        bytes.append(UInt8(ascii: "["))
        needsComma.append(false)
    }

    public mutating func endArray() {
        needsComma.removeLast()
        bytes.append(UInt8(ascii: "]"))
    }

    /// Writes a member name; the next value written is its value.
    public mutating func key(_ name: String) {
        separate()
        appendQuoted(name)
        bytes.append(UInt8(ascii: ":"))
        pendingValueAfterKey = true
    }

    private var pendingValueAfterKey = false

    private mutating func beforeValue() {
        if pendingValueAfterKey {
            pendingValueAfterKey = false
        } else {
            separate()
        }
    }

    public mutating func value(_ s: String) {
        beforeValue()
        appendQuoted(s)
    }

    public mutating func value(_ b: Bool) {
        beforeValue()
        bytes.append(contentsOf: b ? Array("true".utf8) : Array("false".utf8))
    }

    public mutating func value(_ i: Int) {
        beforeValue()
        bytes.append(contentsOf: String(i).utf8)
    }

    public mutating func value(_ d: Double) {
        beforeValue()
        if d.isFinite, d.rounded() == d, abs(d) < 9.0e15 {
            bytes.append(contentsOf: String(Int64(d)).utf8)
        } else if d.isFinite {
            bytes.append(contentsOf: String(d).utf8)
        } else {
            bytes.append(contentsOf: "null".utf8)
        }
    }

    public mutating func null() {
        beforeValue()
        bytes.append(contentsOf: "null".utf8)
    }

    /// Writes a whole `JSON` value.
    public mutating func value(_ json: JSON) {
        switch json {
        case .null: null()
        case .bool(let b): value(b)
        case .number(let n):
            if let i = n.int, Double(i) == n.double { beforeValue(); bytes.append(contentsOf: String(i).utf8) }
            else { value(n.double) }
        case .string(let s): value(s)
        case .array(let a):
            beginArray()
            for e in a { value(e) }
            endArray()
        case .object(let o):
            beginObject()
            for k in o.keys.sorted() {
                key(k)
                value(o[k]!)
            }
            endObject()
        }
    }

    /// Appends `s` as a quoted JSON string. Most strings (names, uids, kinds) need no escape: those are
    /// appended in one copy instead of byte by byte.
    private mutating func appendQuoted(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        let plain = s.utf8.withContiguousStorageIfAvailable { !$0.contains(where: Self.needsEscape) } ?? false
        if plain {
            bytes.append(contentsOf: s.utf8)
            bytes.append(UInt8(ascii: "\""))
            return
        }
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): bytes.append(0x5C); bytes.append(b)
            case UInt8(ascii: "\\"): bytes.append(0x5C); bytes.append(b)
            case 0x0A: bytes.append(0x5C); bytes.append(UInt8(ascii: "n"))
            case 0x0D: bytes.append(0x5C); bytes.append(UInt8(ascii: "r"))
            case 0x09: bytes.append(0x5C); bytes.append(UInt8(ascii: "t"))
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: Array("\\u00".utf8))
                bytes.append(hex[Int(b >> 4)])
                bytes.append(hex[Int(b & 0xF)])
            default: bytes.append(b)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// A byte that cannot stand in a JSON string as it is: a quote, a backslash, a control character.
    @inline(__always)
    private static func needsEscape(_ b: UInt8) -> Bool {
        b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") || b < 0x20
    }
}

extension JSON {
    /// Compact JSON text, members in key order (so output is deterministic).
    public var serialized: String {
        var w = JSONWriter()
        w.value(self)
        return w.string
    }
}
