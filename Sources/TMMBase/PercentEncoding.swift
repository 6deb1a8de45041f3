/// Percent-encoding (RFC 3986 section 2.1) of URL components: the query strings the Kubernetes client
/// builds, and the ones the server reads (`?timeout=5s`).
public enum PercentEncoding {
    /// Whether `byte` is unreserved (RFC 3986 section 2.3: letters, digits, `-`, `.`, `_`, `~`), the only
    /// bytes that never need encoding in any component.
    @inlinable
    public static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"): true
        default: ASCII.isAlphanumeric(byte)
        }
    }

    /// `text` with every byte of its UTF-8 except the unreserved ones written as `%XX` (upper-case hex),
    /// so it is safe as a query name or value, or a path segment, whatever it holds.
    public static func encode(_ text: some StringProtocol) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if isUnreserved(byte) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(ASCII.hexDigit(byte >> 4, uppercase: true))
                out.append(ASCII.hexDigit(byte, uppercase: true))
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `text` with each `%XX` replaced by its byte, and `+` by a space when `plusAsSpace` (HTML forms
    /// write query strings that way). A `%` not followed by two hex digits is kept as it is; bytes that
    /// do not decode to UTF-8 become U+FFFD.
    public static func decode(_ text: some StringProtocol, plusAsSpace: Bool = false) -> String {
        let utf8 = text.utf8
        guard utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusAsSpace && $0 == UInt8(ascii: "+")) }) else {
            return String(text)
        }
        let bytes = Array(utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "%"), i + 2 < bytes.count, let high = ASCII.hexValue(bytes[i + 1]),
                let low = ASCII.hexValue(bytes[i + 2])
            {
                out.append(high << 4 | low)
                i += 3
            } else {
                out.append(plusAsSpace && b == UInt8(ascii: "+") ? UInt8(ascii: " ") : b)
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
