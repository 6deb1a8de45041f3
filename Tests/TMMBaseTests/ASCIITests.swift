import Testing
import TMMBase

/// The ASCII byte classes checked against the whole byte range, and the case-insensitive comparisons.
@Suite struct ASCIITests {
    @Test func byteClassesMatchTheirDefinitionsOverEveryByte() {
        for value in 0...255 {
            let b = UInt8(value)
            let isDigit = (48...57).contains(value)
            let isUpper = (65...90).contains(value)
            let isLower = (97...122).contains(value)
            #expect(ASCII.isDigit(b) == isDigit, "\(value)")
            #expect(ASCII.isLetter(b) == (isUpper || isLower), "\(value)")
            #expect(ASCII.isAlphanumeric(b) == (isDigit || isUpper || isLower), "\(value)")
            #expect(ASCII.isSpaceOrTab(b) == (value == 32 || value == 9), "\(value)")
            #expect(ASCII.lowercased(b) == (isUpper ? b + 32 : b), "\(value)")
            let hex: UInt8? =
                isDigit ? b - 48 : (65...70).contains(value) ? b - 55 : (97...102).contains(value) ? b - 87 : nil
            #expect(ASCII.hexValue(b) == hex, "\(value)")
        }
    }

    @Test func hexDigitsRoundTrip() {
        let upper = (0..<16).map { ASCII.hexDigit(UInt8($0), uppercase: true) }
        let lower = (0..<16).map { ASCII.hexDigit(UInt8($0), uppercase: false) }
        #expect(String(decoding: upper, as: UTF8.self) == "0123456789ABCDEF")
        #expect(String(decoding: lower, as: UTF8.self) == "0123456789abcdef")
        #expect(ASCII.hexDigit(0xAB, uppercase: true) == UInt8(ascii: "B"))  // only the low four bits count
        for n in 0..<16 { #expect(ASCII.hexValue(upper[n]) == UInt8(n) && ASCII.hexValue(lower[n]) == UInt8(n)) }
    }

    @Test(arguments: [
        ("Content-Length", "content-length", true),
        ("CONTENT-LENGTH", "Content-Length", true),
        ("Content-Length", "Content-Lengths", false),
        ("", "", true),
        ("a", "", false),
        ("[", "{", false),  // 0x5B and 0x7B differ only in the case bit but are not letters
        ("é", "É", false),  // ASCII only: no Unicode case mapping
    ])
    func stringsCompareWithoutASCIICase(a: String, b: String, equal: Bool) {
        #expect(ASCII.equalsIgnoringCase(a, b) == equal)
        #expect(ASCII.equalsIgnoringCase(b, a) == equal)
        #expect(ASCII.equalsIgnoringCase(a[...], b) == equal)
    }

    @Test(arguments: [
        ("Transfer-Encoding", true), ("transfer-encoding", true), ("TRANSFER-ENCODING", true),
        ("Transfer-Encodin", false), ("Transfer_Encoding", false), ("", false),
    ])
    func rawBytesCompareWithALowercaseLiteral(name: String, equal: Bool) {
        let result = Array(name.utf8).withUnsafeBytes { ASCII.equalsIgnoringCase($0, lowercase: "transfer-encoding") }
        #expect(result == equal)
    }
}
