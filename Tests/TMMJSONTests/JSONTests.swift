import Testing
import TMMJSON

@Suite struct JSONParseTests {
    @Test func parsesScalarsAndNesting() throws {
        let v = try JSON.parse(#"{"a":[1,-2.5,1e3,true,false,null,"x\"y\u00e9\ud83d\ude00"],"b":{}}"#)
        #expect(v["a"]?[0]?.int == 1)
        #expect(v["a"]?[1]?.double == -2.5)
        #expect(v["a"]?[2]?.int == 1000)
        #expect(v["a"]?[3]?.bool == true)
        #expect(v["a"]?[5]?.isNull == true)
        #expect(v["a"]?[6]?.string == "x\"yé😀")
        #expect(v["b"]?.object?.isEmpty == true)
    }

    @Test(arguments: [
        "", "{", "{\"a\"}", "{\"a\":1,}", "[1,]", "[1 2]", "tru", "\"abc", "01", "1.", "-", "{} x",
        "{\"a\":\"\u{01}\"}", "\"\\q\"", "[\"\\u12\"]",
    ])
    func rejectsInvalid(_ text: String) {
        #expect(throws: JSONError.self) { try JSON.parse(text) }
    }

    @Test func rejectsDeepNesting() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONError.self) { try JSON.parse(deep) }
    }

    @Test func roundTrips() throws {
        let text = #"{"a":[1,2.5,"q\"\n",true,null],"b":{"c":{}}}"#
        let v = try JSON.parse(text)
        #expect(v.serialized == text)
        #expect(try JSON.parse(v.serialized) == v)
    }

    @Test func writerPutsCommasRight() {
        var w = JSONWriter()
        w.beginObject()
        w.key("x"); w.value(1)
        w.key("y"); w.beginArray(); w.value("a"); w.value(true); w.beginObject(); w.endObject(); w.endArray()
        w.key("z"); w.null()
        w.endObject()
        #expect(w.string == #"{"x":1,"y":["a",true,{}],"z":null}"#)
    }

    @Test(arguments: [
        ("plain-uid-705ab4f5", #""plain-uid-705ab4f5""#),
        ("", #""""#),
        ("a \"quote\" and a \\", #""a \"quote\" and a \\""#),
        ("line\nbreak\ttab\r", #""line\nbreak\ttab\r""#),
        ("bell\u{07}", #""bell\u0007""#),
        ("non-ASCII é ☃ 🚀 stays", "\"non-ASCII é ☃ 🚀 stays\""),
        (String(repeating: "long plain text ", count: 20), "\"" + String(repeating: "long plain text ", count: 20) + "\""),
    ])
    func writerQuotesStringsEscapingOnlyWhatJSONRequires(value: String, expected: String) throws {
        var w = JSONWriter()
        w.value(value)
        #expect(w.string == expected)
        #expect(try JSON.parse(w.string) == .string(value))
    }

    /// The member `want` of an object, every other member skipped.
    static func want(in text: [UInt8]) throws -> String? {
        var found: String?
        try text.withUnsafeBytes { buf in
            var s = JSONScanner(buf)
            try s.readObject { (s, key) throws(JSONError) in
                if key.equals("want") { found = try s.readString() }
            }
            try s.expectEnd()
        }
        return found
    }

    @Test func scannerSkipsWhatItDoesNotRead() throws {
        let text = Array(#"{"skip":{"deep":[1,{"x":"y"}]},"want":"yes","n":3}"#.utf8)
        #expect(try Self.want(in: text) == "yes")
    }

    /// `skipValue` keeps its open containers on a stack of bits, with an overflow past 64: nesting on
    /// both sides of that boundary (a level here opens one or two containers), objects and arrays mixed,
    /// must close in the right order.
    @Test(arguments: [1, 42, 43, 44, 100, 300])
    func skipsNestingOnBothSidesOfTheStacksWordBoundary(_ levels: Int) throws {
        var open = ""
        var close = ""
        for level in 0..<levels {
            if level % 2 == 0 {
                open += #"{"k\#(level)":[1,"s",{},[],"#
                close = #"]}"# + close
            } else {
                open += "["
                close = #","x"]"# + close
            }
        }
        let text = Array((#"{"skip":"# + open + "null" + close + #","want":"yes"}"#).utf8)
        #expect(try Self.want(in: text) == "yes")
        // A closing bracket of the wrong kind at the deepest level, and one level too deep, are refused.
        let swapped = Array((open + "null" + (close.first == "]" ? "}" : "]") + close.dropFirst()).utf8)
        #expect(throws: JSONError.self) { try swapped.withUnsafeBytes { var s = JSONScanner($0); try s.skipValue() } }
        let tooDeep = Array((open + "null" + close).utf8)
        #expect(throws: JSONError.self) {
            try tooDeep.withUnsafeBytes { var s = JSONScanner($0, maxDepth: levels - 1); try s.skipValue() }
        }
    }
}
