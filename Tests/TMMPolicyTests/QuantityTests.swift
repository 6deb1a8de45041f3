import TMMPolicy
import Testing

@Suite struct QuantityTests {
    @Test(arguments: [
        ("500m", 1, 500), ("1", 1, 1000), ("1.5", 2, 1500), ("100k", 100_000, 100_000_000), ("1e3", 1000, 1_000_000),
        ("1E3", 1000, 1_000_000), ("1Gi", 1 << 30, 1000 << 30), ("64Mi", 64 << 20, 64_000 << 20), ("1Ki", 1024, 1_024_000),
        ("0.5", 1, 500), ("0.1m", 1, 1), ("250m", 1, 250), ("2Ei", 2 << 60, Int64.max), ("1.5Gi", 3 << 29, 1500 << 30),
        ("16393252Ki", 16_393_252 << 10, 16_393_252_000 << 10), ("0", 0, 0), ("3800m", 4, 3800), ("1M", 1_000_000, 1_000_000_000),
        ("12e-3", 1, 12), ("10n", 1, 1), ("5u", 1, 1), ("1T", 1_000_000_000_000, 1_000_000_000_000_000), ("+2", 2, 2000),
    ] as [(String, Int64, Int64)])
    func parsesExactly(text: String, value: Int64, milli: Int64) throws {
        let q = try Quantity(text)
        #expect(q.value == value)
        #expect(q.milliValue == milli)
    }

    @Test(arguments: ["", "abc", "1Xi", "1.2.3", "m", "1 Gi", "--1"])
    func rejects(text: String) {
        #expect(throws: PolicyError.self) { try Quantity(text) }
    }

    @Test func equalValuesAreEqual() throws {
        #expect(try Quantity("1k") == Quantity("1000"))
        #expect(try Quantity("1Ki") != Quantity("1k"))
    }
}
