import Foundation
import Testing
import TMMJSON

/// The scanner against Foundation's `JSONSerialization` over hand-written documents and seeded mutations
/// of real ones: both accept or both refuse, and what both accept reads the same.
@Suite struct JSONDifferentialTests {
    static let handWritten: [String] = [
        "{}", "[]", "0", "-0", "1.5e3", "-1E-2", "true", "false", "null", #""""#, #""a\"b\\c\/d\b\f\n\r\t""#,
        #"{"a":[1,2,{"b":null}],"c":"\u00e9\uD83D\uDE00"}"#, "[1,[2,[3,[4]]]]", " \t\r\n[ 1 , 2 ]\n",
        #"{"k":123456789012345678}"#, "[1e308, -1e-308, 0.1, 123.456e-7]", #""\u0000""#, "{\"é\":\"ü\"}",
        // Refused by both.
        "", " ", "{", "}", "[1,]", "{\"a\":1,}", "[01]", "[1.]", "[.5]", "[+1]", "[1e]", "[-]", "tru", "nul",
        "[1 2]", "{\"a\" 1}", "{a:1}", "['a']", "\"abc", "\"a\u{01}b\"", "[1]x", "{\"a\":1}}", "[\"\\x41\"]",
        "[\"\\u12\"]", "[\"\\uZZZZ\"]", "NaN", "[Infinity]", "[-Infinity]", "/* c */ 1", "[1,,2]", "{,}",
        "1e400", "[-1e400]", "1e-400",
        #"["\uD800"]"#, #"["\uDC00"]"#, #"["\uD800\u0041"]"#,
    ]

    @Test func handWrittenDocumentsAgree() {
        for text in Self.handWritten { Self.compare(Array(text.utf8)) }
    }

    @Test func invalidUTF8IsRefusedByBoth() {
        for bad: [UInt8] in [[0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC3]] {
            Self.compare(Array("[\"a".utf8) + bad + Array("b\"]".utf8))
        }
    }

    /// Mutations of real AdmissionReviews and a cluster state: deletions, insertions and replacements of
    /// JSON's own characters, from a fixed seed so a failure can be replayed.
    @Test func mutationsOfRealDocumentsAgree() throws {
        var random = SplitMix(seed: 0x7A11_0F_5EED)
        let alphabet = Array("{}[]\":,\\ \t\n0123456789-+.eEtruefalsnl/ubx".utf8) + [0xC3, 0xA9, 0xFF, 0xED, 0x00]
        var compared = 0
        for name in ["enter.json", "label.json", "cluster.json"] {
            let url = try #require(Bundle.module.url(forResource: "Corpus/\(name)", withExtension: nil))
            let original = Array(try Data(contentsOf: url))
            Self.compare(original)
            let rounds = original.count > 20_000 ? 40 : 600
            for _ in 0..<rounds {
                var document = original
                for _ in 0..<(1 + random.next() % 3) {
                    let at = Int(random.next() % UInt64(document.count))
                    switch random.next() % 4 {
                    case 0: document.remove(at: at)
                    case 1: document.insert(alphabet[Int(random.next() % UInt64(alphabet.count))], at: at)
                    case 2: document[at] = alphabet[Int(random.next() % UInt64(alphabet.count))]
                    default: document = Array(document[..<at])
                    }
                    if document.isEmpty { document = [0x20] }
                }
                // Foundation guesses UTF-16 and UTF-32 from NUL bytes in the first four; keep to UTF-8.
                if document.prefix(4).contains(0) { continue }
                Self.compare(document)
                compared += 1
            }
        }
        #expect(compared > 1000)
    }

    static func compare(_ document: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        let ours = try? JSON.parse(document)
        let theirs = try? JSONSerialization.jsonObject(with: Data(document), options: [.fragmentsAllowed])
        let shown = String(decoding: document.prefix(200), as: UTF8.self).debugDescription
        switch (ours, theirs) {
        case (nil, nil):
            return
        case (let ours?, let theirs?):
            #expect(same(ours, theirs), "values differ for \(shown)", sourceLocation: sourceLocation)
        case (nil, _?):
            // Foundation accepts a trailing comma in arrays and objects (`[1,]`), which RFC 8259 does not;
            // that one leniency is theirs. Anything else it accepts that we refuse is a finding.
            if hasTrailingComma(document) { return }
            Issue.record("we refuse what JSONSerialization accepts: \(shown)", sourceLocation: sourceLocation)
        case (_?, nil):
            Issue.record("we accept what JSONSerialization refuses: \(shown)", sourceLocation: sourceLocation)
        }
    }

    /// True when a ',' is followed (after whitespace) by ']' or '}' outside strings.
    static func hasTrailingComma(_ document: [UInt8]) -> Bool {
        var inString = false
        var escaped = false
        var lastSignificant: UInt8 = 0
        for b in document {
            if inString {
                if escaped { escaped = false } else if b == 0x5C { escaped = true } else if b == 0x22 { inString = false }
                continue
            }
            if b == 0x22 { inString = true }
            if (b == 0x5D || b == 0x7D) && lastSignificant == 0x2C { return true }
            if b != 0x20 && b != 0x0A && b != 0x0D && b != 0x09 { lastSignificant = b }
        }
        return false
    }

    static func same(_ ours: JSON, _ theirs: Any) -> Bool {
        switch ours {
        case .null: return theirs is NSNull
        case .bool(let b):
            guard let n = theirs as? NSNumber else { return false }
            return n.boolValue == b
        case .number(let n):
            guard let number = theirs as? NSNumber else { return false }
            if let int = n.int, number.int64Value == int, number.doubleValue == Double(int) || abs(int) > 1 << 53 { return true }
            return number.doubleValue == n.double
        case .string(let s):
            guard let t = theirs as? String else { return false }
            return Array(s.utf8) == Array(t.utf8)
        case .array(let elements):
            guard let other = theirs as? [Any], other.count == elements.count else { return false }
            return zip(elements, other).allSatisfy { same($0, $1) }
        case .object(let members):
            guard let other = theirs as? [String: Any], other.count == members.count else { return false }
            return members.allSatisfy { key, value in other[key].map { same(value, $0) } ?? false }
        }
    }
}

/// A small deterministic generator (SplitMix64), so mutations replay from their seed.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
