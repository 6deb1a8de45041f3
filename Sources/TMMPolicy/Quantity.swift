/// A Kubernetes resource quantity (`500m`, `1Gi`, `1e3`, `1.5`, `100k`, `2Ei`), held exactly.
///
/// The value is `mantissa × 10^exponent10 × 2^exponent2`. Conversions to integers round up, as
/// Kubernetes' `Value()` and `MilliValue()` do, and saturate at `Int64.max`.
public struct Quantity: Sendable, Hashable, CustomStringConvertible {
    let mantissa: Int128
    let exponent10: Int
    let exponent2: Int
    /// The text it was parsed from.
    public let text: String

    /// Parses `text`; throws ``PolicyError/Code/quantity`` on anything Kubernetes would refuse.
    public init(_ text: String) throws(PolicyError) {
        self.text = text
        var bytes = Array(text.utf8)
        func bad(_ why: String) -> PolicyError {
            PolicyError(.quantity, "invalid quantity '\(text)': \(why)")
        }
        guard !bytes.isEmpty else { throw bad("empty") }
        var negative = false
        var i = 0
        if bytes[0] == UInt8(ascii: "-") || bytes[0] == UInt8(ascii: "+") {
            negative = bytes[0] == UInt8(ascii: "-")
            i = 1
        }
        var mantissa: Int128 = 0
        var exp10 = 0
        var digits = 0
        var seenPoint = false
        while i < bytes.count {
            let b = bytes[i]
            if b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") {
                if mantissa < Int128(10).power(30) {
                    mantissa = mantissa * 10 + Int128(b - UInt8(ascii: "0"))
                    if seenPoint { exp10 -= 1 }
                } else if !seenPoint {
                    exp10 += 1  // keep magnitude, drop precision far beyond Int64
                }
                digits += 1
            } else if b == UInt8(ascii: "."), !seenPoint {
                seenPoint = true
            } else {
                break
            }
            i += 1
        }
        guard digits > 0 else { throw bad("no digits") }
        bytes.removeFirst(i)
        var exp2 = 0
        let suffix = String(decoding: bytes, as: UTF8.self)
        switch suffix {
        case "": break
        case "n": exp10 -= 9
        case "u": exp10 -= 6
        case "m": exp10 -= 3
        case "k": exp10 += 3
        case "M": exp10 += 6
        case "G": exp10 += 9
        case "T": exp10 += 12
        case "P": exp10 += 15
        case "E": exp10 += 18
        case "Ki": exp2 = 10
        case "Mi": exp2 = 20
        case "Gi": exp2 = 30
        case "Ti": exp2 = 40
        case "Pi": exp2 = 50
        case "Ei": exp2 = 60
        default:
            guard let first = suffix.first, first == "e" || first == "E",
                let e = Int(suffix.dropFirst()), abs(e) < 1000
            else { throw bad("unknown suffix '\(suffix)'") }
            exp10 += e
        }
        while mantissa != 0, mantissa % 10 == 0 {
            mantissa /= 10
            exp10 += 1
        }
        self.mantissa = negative ? -mantissa : mantissa
        self.exponent10 = exp10
        self.exponent2 = exp2
    }

    /// The value in whole units, rounded up (memory in bytes, pods).
    public var value: Int64 { scaled(by: 0) }
    /// The value in thousandths, rounded up (cpu in millicores).
    public var milliValue: Int64 { scaled(by: 3) }

    /// ceil(value × 10^extra10), saturating.
    func scaled(by extra10: Int) -> Int64 {
        if mantissa == 0 { return 0 }
        let limit = Int128(Int64.max)
        var v = mantissa
        let e10 = exponent10 + extra10
        var e2 = exponent2
        // Multiply up first (exactly, saturating), then divide with ceiling.
        while e2 > 0 {
            if v.magnitude > limit.magnitude { return saturate(v) }
            v *= 2
            e2 -= 1
        }
        if e10 >= 0 {
            for _ in 0..<e10 {
                if v.magnitude > limit.magnitude { return saturate(v) }
                v *= 10
            }
            return v.magnitude > limit.magnitude ? saturate(v) : Int64(v)
        }
        if -e10 > 36 { return v > 0 ? 1 : 0 }
        let divisor = Int128(10).power(-e10)
        var q = v / divisor
        if v % divisor != 0, v > 0 { q += 1 }
        return q.magnitude > limit.magnitude ? saturate(q) : Int64(q)
    }

    private func saturate(_ v: Int128) -> Int64 { v < 0 ? Int64.min : Int64.max }

    public var description: String { text }

    public static func == (a: Quantity, b: Quantity) -> Bool {
        a.mantissa == b.mantissa && a.exponent10 == b.exponent10 && a.exponent2 == b.exponent2
    }

    /// Hashes the exact value.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(mantissa)
        hasher.combine(exponent10)
        hasher.combine(exponent2)
    }
}

extension Int128 {
    fileprivate func power(_ n: Int) -> Int128 {
        var r: Int128 = 1
        for _ in 0..<n { r *= self }
        return r
    }
}
