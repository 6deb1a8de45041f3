import Testing
import TMMBase

/// Percent-encoding of query components and its inverse.
@Suite struct PercentEncodingTests {
    @Test(arguments: [
        ("abcXYZ019-._~", "abcXYZ019-._~"),  // unreserved: as they are
        ("a b", "a%20b"),
        ("eyJ2IjoxfQ==", "eyJ2IjoxfQ%3D%3D"),  // a continue token's padding
        ("app=web,tier in (a,b)", "app%3Dweb%2Ctier%20in%20%28a%2Cb%29"),
        ("é", "%C3%A9"),  // every UTF-8 byte, upper-case hex
        ("%+/?&#", "%25%2B%2F%3F%26%23"),
        ("", ""),
    ])
    func encodesEverythingButUnreservedBytes(plain: String, encoded: String) {
        #expect(PercentEncoding.encode(plain) == encoded)
        #expect(PercentEncoding.decode(encoded) == plain)
    }

    @Test(arguments: [
        ("5s", false, "5s"),
        ("a%2fb%2Fc", false, "a/b/c"),  // either case of hex
        ("a+b", false, "a+b"),
        ("a+b", true, "a b"),
        ("%2B", true, "+"),  // an encoded plus is a plus
        ("100%", false, "100%"),  // a lone or short escape stays as written
        ("%4", false, "%4"),
        ("%zz1", false, "%zz1"),
        ("%+F", false, "%+F"),  // a sign is not a hex digit
        ("%%41", false, "%A"),
        ("%FF", false, "\u{FFFD}"),  // not UTF-8
    ])
    func decodesEscapesAndLeavesMalformedOnesAlone(encoded: String, plusAsSpace: Bool, plain: String) {
        #expect(PercentEncoding.decode(encoded, plusAsSpace: plusAsSpace) == plain)
    }

    @Test func everyByteRoundTrips() {
        let all = String(decoding: (0...127).map { UInt8($0) }, as: UTF8.self) + "ü€𝄞"
        let encoded = PercentEncoding.encode(all)
        #expect(encoded.utf8.allSatisfy { PercentEncoding.isUnreserved($0) || $0 == UInt8(ascii: "%") })
        #expect(PercentEncoding.decode(encoded) == all)
        #expect(PercentEncoding.decode(encoded, plusAsSpace: true) == all)
    }
}
