public import TMMJSON

extension Taint {
    /// Reads one taint object (`{"key":..,"value":..,"effect":..}`); other members are skipped. A second
    /// `key`, `value` or `effect` is an error: Go's decoder in the API server keeps the last copy and other
    /// parsers the first, so such a taint could mean one thing here and another there.
    public static func read(_ s: inout JSONScanner) throws(JSONError) -> Taint {
        var taint = Taint(key: "", effect: "")
        var seen: UInt8 = 0
        func mark(_ bit: UInt8, _ name: StaticString, at offset: Int) throws(JSONError) {
            if seen & bit != 0 { throw JSONError(.syntax, at: offset, "duplicate member '\(name)' in a taint") }
            seen |= bit
        }
        try s.readObject { (s, k) throws(JSONError) in
            if k.equals("key") {
                try mark(1, "key", at: s.offset)
                taint.key = try s.readOptionalString() ?? ""
            } else if k.equals("value") {
                try mark(2, "value", at: s.offset)
                taint.value = try s.readOptionalString() ?? ""
            } else if k.equals("effect") {
                try mark(4, "effect", at: s.offset)
                taint.effect = try s.readOptionalString() ?? ""
            }
        }
        return taint
    }
}
