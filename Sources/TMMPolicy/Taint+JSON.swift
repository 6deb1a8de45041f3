public import TMMJSON

extension Taint {
    /// Reads one taint object (`{"key":..,"value":..,"effect":..}`); other members are skipped.
    public static func read(_ s: inout JSONScanner) throws(JSONError) -> Taint {
        var taint = Taint(key: "", effect: "")
        try s.readObject { (s, k) throws(JSONError) in
            if k.equals("key") {
                taint.key = try s.readOptionalString() ?? ""
            } else if k.equals("value") {
                taint.value = try s.readOptionalString() ?? ""
            } else if k.equals("effect") {
                taint.effect = try s.readOptionalString() ?? ""
            }
        }
        return taint
    }
}
