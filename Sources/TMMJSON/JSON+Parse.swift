extension JSON {
    /// Parses a whole JSON document.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONError) -> JSON {
        var scanner = JSONScanner(bytes)
        if scanner.atEnd() { throw JSONError(.empty, at: 0, "empty JSON document") }
        let value = try scanner.readValue()
        try scanner.expectEnd()
        return value
    }

    /// Parses a whole JSON document.
    public static func parse(_ bytes: [UInt8]) throws(JSONError) -> JSON {
        do {
            return try bytes.withUnsafeBytes { buf in try parse(buf) }
        } catch let error as JSONError {
            throw error
        } catch {
            fatalError("unreachable: JSON.parse throws only JSONError")
        }
    }

    /// Parses a whole JSON document.
    public static func parse(_ text: String) throws(JSONError) -> JSON {
        try parse(Array(text.utf8))
    }
}

extension JSONScanner {
    /// Reads the next value into a `JSON` tree.
    public mutating func readValue() throws(JSONError) -> JSON {
        switch try peekKind() {
        case .null:
            try readNull()
            return .null
        case .bool: return .bool(try readBool())
        case .number: return .number(try readNumber())
        case .string: return .string(try readString())
        case .array:
            var elements: [JSON] = []
            try readArray { (s) throws(JSONError) in elements.append(try s.readValue()) }
            return .array(elements)
        case .object:
            var members: [String: JSON] = [:]
            try readObject { (s, key) throws(JSONError) in members[key.string] = try s.readValue() }
            return .object(members)
        }
    }
}
