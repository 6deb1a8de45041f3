import Testing
import TMMJSON

/// The scanner refuses what is not JSON, in the members it reads and in the ones it skips alike.
@Suite struct JSONStrictnessTests {
    static func bytes(_ parts: [UInt8]...) -> [UInt8] { parts.flatMap { $0 } }

    /// Invalid UTF-8 inside strings: an error, never a silent U+FFFD.
    @Test(arguments: [
        [0xFF],  // never valid
        [0xC0, 0xAF],  // overlong '/'
        [0xC3],  // truncated
        [0xE0, 0x80, 0xAF],  // overlong
        [0xED, 0xA0, 0x80],  // an encoded surrogate
        [0xF4, 0x90, 0x80, 0x80],  // above U+10FFFF
        [0xF5, 0x80, 0x80, 0x80],
        [0x80],  // a lone continuation byte
        [0xE2, 0x82],  // truncated at the end of the string
    ] as [[UInt8]])
    func invalidUTF8IsRefused(sequence: [UInt8]) {
        let read = Self.bytes(Array(#"{"a":"x"#.utf8), sequence, Array(#"y"}"#.utf8))
        #expect(throws: JSONError.self) { try JSON.parse(read) }
        // Skipped, too: the reader looks only at "b".
        let skipped = Self.bytes(Array(#"{"a":"x"#.utf8), sequence, Array(#"y","b":1}"#.utf8))
        #expect(throws: JSONError.self) { try Self.readOnlyB(skipped) }
    }

    @Test(arguments: ["é", "€", "😀", "\u{10FFFF}", "\u{7FF}", "\u{FFFF}"])
    func validUTF8IsKeptAsIs(text: String) throws {
        let json = try JSON.parse(Array("{\"a\":\"x\(text)y\"}".utf8))
        #expect(json["a"]?.string == "x\(text)y")
    }

    /// Lone surrogates in `\u` escapes are not Unicode scalars: an error.
    @Test(arguments: [#""\uD800""#, #""\uDC00""#, #""\uD800x""#, #""\uD800\u0041""#, #""\uDBFF\uDBFF""#, #""a\uDFFFb""#])
    func loneSurrogatesAreRefused(text: String) {
        #expect(throws: JSONError.self) { try JSON.parse(text) }
        #expect(throws: JSONError.self) { try Self.readOnlyB(Array("{\"a\":\(text),\"b\":1}".utf8)) }
    }

    @Test func surrogatePairsAreDecoded() throws {
        #expect(try JSON.parse(#""\uD83D\uDE00""#).string == "😀")
        #expect(try JSON.parse(#""\u00e9\u20AC""#).string == "é€")
    }

    /// Invalid escapes are refused in skipped strings as in read ones (`\x`, a short `\u`).
    @Test(arguments: [#""\x41""#, #""\u12""#, #""\u12G4""#, #""\'""#, #""\U0041""#, #""\"#, #""\u""#])
    func invalidEscapesAreRefusedEvenWhenSkipped(text: String) {
        #expect(throws: JSONError.self) { try JSON.parse(text) }
        #expect(throws: JSONError.self) { try Self.readOnlyB(Array("{\"a\":\(text),\"b\":1}".utf8)) }
        #expect(throws: JSONError.self) { try Self.readOnlyB(Array("{\(text):1,\"b\":1}".utf8)) }
    }

    /// Numbers beyond a Double's range are refused, not read as infinity (which writes back as null).
    @Test(arguments: ["1e400", "-1e400", String(repeating: "6", count: 347), "[0.5e99999]"])
    func numbersOutOfRangeAreRefused(text: String) throws {
        #expect(throws: JSONError.self) { try JSON.parse(text) }
        #expect(throws: JSONError.self) { try Self.readOnlyB(Array("{\"a\":\(text),\"b\":1}".utf8)) }
        #expect(try JSON.parse("1e308").double == 1e308)
        #expect(try JSON.parse("1e-400").double == 0)  // underflow is a finite value, as everywhere
    }

    /// Reads member "b" of an object and skips the rest.
    static func readOnlyB(_ bytes: [UInt8]) throws -> Int64? {
        try bytes.withUnsafeBytes { buffer in
            var scanner = JSONScanner(buffer)
            var b: Int64?
            try scanner.readObject { (s, key) throws(JSONError) in
                if key.equals("b") { b = try s.readNumber().int }
            }
            try scanner.expectEnd()
            return b
        }
    }
}
