extension LabelSelector {
    /// Parses the kubectl selector syntax: `a=b,c!=d,e in (x,y),f notin (z),g,!h` (also `==`).
    ///
    /// Keys and values are checked against Kubernetes' label syntax. An empty or blank string is the
    /// selector that matches everything.
    public static func parse(_ text: String) throws(PolicyError) -> LabelSelector {
        var parser = SelectorParser(Array(text.utf8), text: text)
        return LabelSelector(try parser.parse())
    }
}

/// A small hand-written lexer/parser for the selector string syntax.
struct SelectorParser {
    let b: [UInt8]
    let text: String
    var i = 0

    init(_ bytes: [UInt8], text: String) {
        self.b = bytes
        self.text = text
    }

    func fail(_ why: String) -> PolicyError {
        PolicyError(.selector, "invalid label selector '\(text)': \(why)")
    }

    mutating func skipSpaces() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x09 { i += 1 }
    }

    static func isNameByte(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
            || c == UInt8(ascii: "-") || c == UInt8(ascii: "_") || c == UInt8(ascii: ".") || c == UInt8(ascii: "/")
    }

    mutating func word() -> String {
        skipSpaces()
        let start = i
        while i < b.count, SelectorParser.isNameByte(b[i]) { i += 1 }
        return String(decoding: b[start..<i], as: UTF8.self)
    }

    mutating func parse() throws(PolicyError) -> [LabelRequirement] {
        var out: [LabelRequirement] = []
        skipSpaces()
        if i == b.count { return out }
        while true {
            out.append(try requirement())
            skipSpaces()
            if i == b.count { return out }
            guard b[i] == UInt8(ascii: ",") else { throw fail("expected ',' at offset \(i)") }
            i += 1
        }
    }

    mutating func requirement() throws(PolicyError) -> LabelRequirement {
        skipSpaces()
        if i < b.count, b[i] == UInt8(ascii: "!") {
            i += 1
            let key = try validKey(word())
            return LabelRequirement(key, .doesNotExist)
        }
        let key = try validKey(word())
        skipSpaces()
        if i == b.count || b[i] == UInt8(ascii: ",") { return LabelRequirement(key, .exists) }
        if b[i] == UInt8(ascii: "=") {
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "=") { i += 1 }
            return LabelRequirement(key, .in, [try validValue(word())])
        }
        if b[i] == UInt8(ascii: "!"), i + 1 < b.count, b[i + 1] == UInt8(ascii: "=") {
            i += 2
            return LabelRequirement(key, .notIn, [try validValue(word())])
        }
        if b[i] == UInt8(ascii: ">") || b[i] == UInt8(ascii: "<") {
            let op: LabelRequirement.Operator = b[i] == UInt8(ascii: ">") ? .gt : .lt
            i += 1
            let v = word()
            guard Int64(v) != nil else { throw fail("'\(key)' needs an integer after \(op == .gt ? ">" : "<")") }
            return LabelRequirement(key, op, [v])
        }
        let op = word()
        let kind: LabelRequirement.Operator
        switch op {
        case "in": kind = .in
        case "notin": kind = .notIn
        default: throw fail("unknown operator '\(op)' after '\(key)'")
        }
        skipSpaces()
        guard i < b.count, b[i] == UInt8(ascii: "(") else { throw fail("expected '(' after '\(op)'") }
        i += 1
        var values: [String] = []
        while true {
            values.append(try validValue(word()))
            skipSpaces()
            guard i < b.count else { throw fail("missing ')'") }
            if b[i] == UInt8(ascii: ")") {
                i += 1
                break
            }
            guard b[i] == UInt8(ascii: ",") else { throw fail("expected ',' or ')' in the values of '\(key)'") }
            i += 1
        }
        if values == [""] { throw fail("'\(op)' needs at least one value for '\(key)'") }
        return LabelRequirement(key, kind, values)
    }

    func validKey(_ key: String) throws(PolicyError) -> String {
        guard !key.isEmpty else { throw fail("expected a label key at offset \(i)") }
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let name = parts.last, !name.isEmpty, name.count <= 63,
            SelectorParser.alnumEnds(name), !name.contains("/")
        else { throw fail("'\(key)' is not a valid label key") }
        if parts.count == 2, parts[0].isEmpty || parts[0].count > 253 {
            throw fail("'\(key)' has an invalid prefix")
        }
        return key
    }

    func validValue(_ value: String) throws(PolicyError) -> String {
        guard value.count <= 63, value.isEmpty || SelectorParser.alnumEnds(Substring(value)), !value.contains("/")
        else { throw fail("'\(value)' is not a valid label value") }
        return value
    }

    static func alnumEnds(_ s: Substring) -> Bool {
        guard let f = s.utf8.first, let l = s.utf8.last else { return false }
        func alnum(_ c: UInt8) -> Bool {
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
        }
        return alnum(f) && alnum(l)
    }
}
