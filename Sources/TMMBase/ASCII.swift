/// Byte-level ASCII tests and conversions for protocol text (HTTP heads, query strings, JSON escapes).
///
/// Protocol tokens are ASCII by definition, so these compare bytes instead of going through Unicode case
/// mapping (`String.lowercased()` allocates and knows about the Kelvin sign). All are `@inlinable`:
/// the HTTP parser calls them per byte.
public enum ASCII {
    /// `0`–`9`.
    @inlinable @inline(__always)
    public static func isDigit(_ byte: UInt8) -> Bool {
        byte &- UInt8(ascii: "0") < 10
    }

    /// `A`–`Z` and `a`–`z`.
    @inlinable @inline(__always)
    public static func isLetter(_ byte: UInt8) -> Bool {
        (byte | 0x20) &- UInt8(ascii: "a") < 26
    }

    /// A letter or a digit.
    @inlinable @inline(__always)
    public static func isAlphanumeric(_ byte: UInt8) -> Bool {
        isLetter(byte) || isDigit(byte)
    }

    /// Space or horizontal tab: HTTP's optional white space around header values.
    @inlinable @inline(__always)
    public static func isSpaceOrTab(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }

    /// The byte with `A`–`Z` mapped to `a`–`z`; every other byte unchanged.
    @inlinable @inline(__always)
    public static func lowercased(_ byte: UInt8) -> UInt8 {
        byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte
    }

    /// The value (0–15) of a hexadecimal digit in either case, or nil for any other byte.
    @inlinable @inline(__always)
    public static func hexValue(_ byte: UInt8) -> UInt8? {
        if isDigit(byte) { return byte &- UInt8(ascii: "0") }
        let lower = byte | 0x20
        if lower &- UInt8(ascii: "a") < 6 { return lower &- UInt8(ascii: "a") &+ 10 }
        return nil
    }

    /// The hexadecimal digit for the low four bits of `nibble`: `0`–`9`, then `A`–`F` (`uppercase`, as
    /// percent-encoding prefers) or `a`–`f` (as JSON's `\u` escapes are usually written).
    @inlinable @inline(__always)
    public static func hexDigit(_ nibble: UInt8, uppercase: Bool) -> UInt8 {
        let n = nibble & 0xF
        return n < 10 ? UInt8(ascii: "0") &+ n : (uppercase ? UInt8(ascii: "A") : UInt8(ascii: "a")) &+ n &- 10
    }

    /// Whether `a` and `b` are equal when ASCII letters are compared without case (header names, tokens),
    /// without allocating.
    @inlinable
    public static func equalsIgnoringCase(_ a: some StringProtocol, _ b: some StringProtocol) -> Bool {
        var i = a.utf8.makeIterator()
        var j = b.utf8.makeIterator()
        while true {
            switch (i.next(), j.next()) {
            case (nil, nil): return true
            case (let x?, let y?): if lowercased(x) != lowercased(y) { return false }
            default: return false
            }
        }
    }

    /// Whether the raw `bytes` spell `lowercase` (a lowercase literal such as `"content-length"`) when
    /// ASCII letters are compared without case. For matching header names straight from the receive buffer.
    @inlinable @inline(__always)
    public static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, lowercase: StaticString) -> Bool {
        let n = lowercase.utf8CodeUnitCount
        guard bytes.count == n else { return false }
        let p = lowercase.utf8Start
        for i in 0..<n where lowercased(bytes[i]) != p[i] { return false }
        return true
    }
}
