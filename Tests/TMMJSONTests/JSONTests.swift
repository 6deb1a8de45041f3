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

    @Test func scannerSkipsWhatItDoesNotRead() throws {
        let text = Array(#"{"skip":{"deep":[1,{"x":"y"}]},"want":"yes","n":3}"#.utf8)
        var found: String?
        try text.withUnsafeBytes { buf in
            var s = JSONScanner(buf)
            try s.readObject { (s, key) throws(JSONError) in
                if key.equals("want") { found = try s.readString() }
            }
            try s.expectEnd()
        }
        #expect(found == "yes")
    }
}
