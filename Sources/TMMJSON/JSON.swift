/// A JSON document held in memory.
///
/// Objects keep their members in a dictionary: order is not significant in anything this project reads
/// or writes. Numbers are kept as `Double` plus, when the text was an integer that fits, as `Int64`, so
/// `resourceVersion`-sized integers and quantities like `1e3` both survive.
public enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSON])
    case object([String: JSON])
}

/// A JSON number: its exact integer value when it has one, and its `Double` value always.
public struct JSONNumber: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The value as an integer, when the text was an integer in range of `Int64`.
    public var int: Int64?
    /// The value as a double (always present; may lose precision for large integers).
    public var double: Double

    public init(_ int: Int64) {
        self.int = int
        self.double = Double(int)
    }

    public init(_ double: Double) {
        self.double = double
        if double.rounded() == double, abs(double) < 9.0e18 {
            self.int = Int64(double)
        } else {
            self.int = nil
        }
    }

    public var description: String {
        if let int { return String(int) }
        return String(double)
    }
}

extension JSON {
    /// The member `key` of an object, or `nil` when this is not an object or has no such member.
    @inlinable
    public subscript(key: String) -> JSON? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    /// The element at `index` of an array, or `nil`.
    @inlinable
    public subscript(index: Int) -> JSON? {
        if case .array(let elements) = self, elements.indices.contains(index) { return elements[index] }
        return nil
    }

    /// Follows a path of object keys.
    public func value(at path: String...) -> JSON? {
        var current: JSON? = self
        for key in path { current = current?[key] }
        return current
    }

    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var bool: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var int: Int64? {
        if case .number(let n) = self { return n.int }
        return nil
    }

    public var double: Double? {
        if case .number(let n) = self { return n.double }
        return nil
    }

    public var array: [JSON]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var object: [String: JSON]? {
        if case .object(let o) = self { return o }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}

extension JSON: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral, ExpressibleByFloatLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .number(JSONNumber(value)) }
    public init(floatLiteral value: Double) { self = .number(JSONNumber(value)) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSON...) { self = .array(elements) }
    public init(nilLiteral: ()) { self = .null }
    public init(dictionaryLiteral elements: (String, JSON)...) {
        var members: [String: JSON] = [:]
        for (k, v) in elements { members[k] = v }
        self = .object(members)
    }
}
