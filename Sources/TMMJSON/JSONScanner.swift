#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A forward-only JSON reader over a byte buffer that the caller keeps alive.
///
/// It validates as it goes, and lets a caller read only the members it cares about and skip the rest
/// without building values: the admission hot path reads a handful of fields of a 20 KB Node update
/// this way. `JSON.parse` builds whole documents on top of it.
public struct JSONScanner: ~Copyable {
    @usableFromInline let base: UnsafePointer<UInt8>
    @usableFromInline let count: Int
    /// Offset of the next unread byte.
    public private(set) var offset: Int
    @usableFromInline var depth: Int = 0
    /// Nesting limit, against stack exhaustion on hostile input.
    public let maxDepth: Int

    /// Reads `buffer`, which must outlive the scanner.
    public init(_ buffer: UnsafeRawBufferPointer, maxDepth: Int = 512) {
        if let address = buffer.baseAddress {
            self.base = address.assumingMemoryBound(to: UInt8.self)
        } else {
            self.base = UnsafePointer(bitPattern: 1)!  // never dereferenced: count is 0
        }
        self.count = buffer.count
        self.offset = 0
        self.maxDepth = maxDepth
    }

    /// The kind of the next value, after skipping whitespace. `nil` at the end of input.
    public enum Kind: Sendable, Equatable { case null, bool, number, string, array, object }

    @inline(__always)
    mutating func skipWhitespace() {
        while offset < count {
            let b = base[offset]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { offset += 1 } else { return }
        }
    }

    /// The kind of the next value without consuming it.
    public mutating func peekKind() throws(JSONError) -> Kind {
        skipWhitespace()
        guard offset < count else { throw JSONError(.syntax, at: offset, "unexpected end of JSON") }
        switch base[offset] {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool
        case UInt8(ascii: "n"): return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        default: throw JSONError(.syntax, at: offset, "unexpected character '\(printable(base[offset]))'")
        }
    }

    /// Throws unless only whitespace remains.
    public mutating func expectEnd() throws(JSONError) {
        skipWhitespace()
        if offset != count { throw JSONError(.trailing, at: offset, "unexpected data after the JSON document") }
    }

    /// True when only whitespace remains.
    public mutating func atEnd() -> Bool {
        skipWhitespace()
        return offset == count
    }

    @inline(__always)
    mutating func expect(_ byte: UInt8, _ what: String) throws(JSONError) {
        skipWhitespace()
        guard offset < count, base[offset] == byte else {
            if offset >= count { throw JSONError(.syntax, at: offset, "unexpected end of JSON, expected \(what)") }
            throw JSONError(.syntax, at: offset, "expected \(what), found '\(printable(base[offset]))'")
        }
        offset += 1
    }

    // MARK: Objects and arrays

    /// Reads an object, calling `body` with each member's key while the scanner stands on its value.
    /// `body` must consume the value (read it or `skipValue()`).
    public mutating func readObject(
        _ body: (inout JSONScanner, _ key: UnsafeRawBufferPointer) throws(JSONError) -> Void
    ) throws(JSONError) {
        try expect(UInt8(ascii: "{"), "'{'")
        depth += 1
        if depth > maxDepth { throw JSONError(.depth, at: offset, "JSON nested too deeply") }
        skipWhitespace()
        if offset < count, base[offset] == UInt8(ascii: "}") {
            offset += 1
            depth -= 1
            return
        }
        while true {
            skipWhitespace()
            guard offset < count, base[offset] == UInt8(ascii: "\"") else {
                throw JSONError(.syntax, at: offset, "expected a member name")
            }
            let key = try rawStringBody()
            try expect(UInt8(ascii: ":"), "':'")
            skipWhitespace()
            let before = offset
            if key.escaped {
                let decoded = try decodeString(from: key.start, to: key.end)
                let bytes = Array(decoded.utf8)
                let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
                defer { buf.deallocate() }
                buf.copyBytes(from: bytes)
                try body(&self, UnsafeRawBufferPointer(buf))
            } else {
                try body(&self, UnsafeRawBufferPointer(start: base + key.start, count: key.end - key.start))
            }
            if offset == before { try skipValue() }
            skipWhitespace()
            guard offset < count else { throw JSONError(.syntax, at: offset, "unexpected end of JSON in an object") }
            let b = base[offset]
            offset += 1
            if b == UInt8(ascii: ",") { continue }
            if b == UInt8(ascii: "}") { break }
            throw JSONError(.syntax, at: offset - 1, "expected ',' or '}' in an object")
        }
        depth -= 1
    }

    /// Reads an array, calling `body` while the scanner stands on each element. `body` should consume
    /// the element; one it leaves unread is skipped.
    public mutating func readArray(_ body: (inout JSONScanner) throws(JSONError) -> Void) throws(JSONError) {
        try expect(UInt8(ascii: "["), "'['")
        depth += 1
        if depth > maxDepth { throw JSONError(.depth, at: offset, "JSON nested too deeply") }
        skipWhitespace()
        if offset < count, base[offset] == UInt8(ascii: "]") {
            offset += 1
            depth -= 1
            return
        }
        while true {
            skipWhitespace()
            let start = offset
            try body(&self)
            if offset == start { try skipValue() }
            skipWhitespace()
            guard offset < count else { throw JSONError(.syntax, at: offset, "unexpected end of JSON in an array") }
            let b = base[offset]
            offset += 1
            if b == UInt8(ascii: ",") { continue }
            if b == UInt8(ascii: "]") { break }
            throw JSONError(.syntax, at: offset - 1, "expected ',' or ']' in an array")
        }
        depth -= 1
    }
    /// A complete object or array this scanner has validated, to recognise a later copy of it.
    public struct ValidatedValue: Sendable {
        let document: UInt
        let range: Range<Int>
        let depth: Int
        /// Its length in bytes.
        public var count: Int { range.count }
    }

    /// Skips the next value as ``skipValue()`` does, and when it is an object or an array returns where
    /// it lies, for ``skipValue(repeating:)``.
    public mutating func skipValueRecording() throws(JSONError) -> ValidatedValue? {
        skipWhitespace()
        let start = offset
        let container = start < count && (base[start] == UInt8(ascii: "{") || base[start] == UInt8(ascii: "["))
        try skipValue()
        return container ? ValidatedValue(document: UInt(bitPattern: base), range: start..<offset, depth: depth) : nil
    }

    /// Skips the next value. When its bytes repeat `earlier` byte for byte (at the same depth), it is the
    /// same valid value and is stepped over with one comparison: an object or an array ends where its
    /// own bytes say, so a copy of a valid one is valid and ends at the same distance. Otherwise it is
    /// validated as ``skipValue()`` does. A Node update carries the node twice (`object`, `oldObject`)
    /// and most of it (the status) is usually unchanged.
    public mutating func skipValue(repeating earlier: ValidatedValue) throws(JSONError) {
        skipWhitespace()
        let n = earlier.range.count
        if earlier.document == UInt(bitPattern: base), earlier.depth == depth, n > 0, n <= count - offset,
            earlier.range.upperBound <= offset,
            memcmp(base + offset, base + earlier.range.lowerBound, n) == 0
        {
            offset += n
            return
        }
        try skipValue()
    }


    /// Skips one value of any kind, validating it. A direct recursive descent without closures: this is
    /// the hot path for the large parts of a Node the webhook does not read.
    public mutating func skipValue() throws(JSONError) {
        // One loop over the whole value, with the open containers on an explicit stack (a bit each: an
        // object or an array), so that no element costs a call: most of a Node update is skipped.
        let outer = depth
        defer { depth = outer }
        var isObject: UInt64 = 0  // bit k: container k (counted from this value) is an object
        var deeper: [Bool] = []  // the same beyond 64 open containers (hostile input only)
        var level = 0
        var i = offset
        while true {
            // A value starts at i.
            i = skippingWhitespace(from: i)
            guard i < count else {
                offset = i
                throw JSONError(.syntax, at: i, "unexpected end of JSON")
            }
            var closed = false
            switch base[i] {
            case UInt8(ascii: "\""):
                i = try endOfString(openingAt: i)
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let object = base[i] == UInt8(ascii: "{")
                depth += 1
                if depth > maxDepth {
                    offset = i + 1
                    throw JSONError(.depth, at: i + 1, "JSON nested too deeply")
                }
                if level < 64 {
                    if object { isObject |= 1 << UInt64(level) } else { isObject &= ~(1 << UInt64(level)) }
                } else {
                    deeper.append(object)
                }
                level += 1
                i = skippingWhitespace(from: i + 1)
                if i < count, base[i] == (object ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    i += 1
                    closed = true
                } else if object {
                    i = try memberName(at: i)
                    continue
                } else {
                    continue
                }
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                offset = i
                _ = try readNumberRange()
                i = offset
            case UInt8(ascii: "t"), UInt8(ascii: "f"):
                offset = i
                _ = try readBool()
                i = offset
            case UInt8(ascii: "n"):
                offset = i
                try readNull()
                i = offset
            default:
                offset = i
                throw JSONError(.syntax, at: i, "unexpected character '\(printable(base[i]))'")
            }
            // After a value (or a container just closed): what the enclosing container allows next.
            while true {
                if closed {
                    level -= 1
                    depth -= 1
                    if level >= 64 { deeper.removeLast() }
                    closed = false
                }
                if level == 0 {
                    offset = i
                    return
                }
                let object = level <= 64 ? isObject & (1 << UInt64(level - 1)) != 0 : deeper[level - 65]
                i = skippingWhitespace(from: i)
                guard i < count else {
                    offset = i
                    throw JSONError(.syntax, at: i, object ? "unexpected end of JSON in an object" : "unexpected end of JSON in an array")
                }
                let b = base[i]
                i += 1
                if b == UInt8(ascii: ",") {
                    if object { i = try memberName(at: i) }
                    break
                }
                if b == (object ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    closed = true
                    continue
                }
                offset = i - 1
                throw JSONError(.syntax, at: i - 1, object ? "expected ',' or '}' in an object" : "expected ',' or ']' in an array")
            }
        }
    }

    @inline(__always)
    private func skippingWhitespace(from start: Int) -> Int {
        var i = start
        while i < count {
            let b = base[i]
            guard b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 else { break }
            i += 1
        }
        return i
    }

    /// Steps over `"name" :` from `i` (whitespace allowed around it); returns where the value may start.
    @inline(__always)
    private mutating func memberName(at start: Int) throws(JSONError) -> Int {
        var i = skippingWhitespace(from: start)
        guard i < count, base[i] == UInt8(ascii: "\"") else {
            offset = i
            throw JSONError(.syntax, at: i, "expected a member name")
        }
        i = skippingWhitespace(from: try endOfString(openingAt: i))
        guard i < count, base[i] == UInt8(ascii: ":") else {
            offset = i
            if i >= count { throw JSONError(.syntax, at: i, "unexpected end of JSON, expected ':'") }
            throw JSONError(.syntax, at: i, "expected ':', found '\(printable(base[i]))'")
        }
        return i + 1
    }

    /// Steps over the string whose opening quote is at `i`, validating it, and returns the index after
    /// its closing quote. Most strings are short and plain: their end is found here, 8 bytes a step;
    /// anything else (an escape, non-ASCII bytes, a longer string, the end of the input) goes through
    /// ``rawStringBody()``.
    @inline(__always)
    private mutating func endOfString(openingAt i: Int) throws(JSONError) -> Int {
        // Its own 8-byte loop rather than `firstSpecialByte`'s 16-byte one: for the short strings that
        // dominate a Node update that one's setup costs more (116k against 125k instructions a review).
        var j = i &+ 1
        let raw = UnsafeRawPointer(base)
        while j &+ 8 <= count {
            let mask = specialByteMask(raw.loadUnaligned(fromByteOffset: j, as: UInt64.self))
            if mask == 0 {
                j &+= 8
                continue
            }
            // The lowest flagged byte is always a real one (borrows only flag bytes above it).
            let end = j &+ mask.trailingZeroBitCount >> 3
            if base[end] == UInt8(ascii: "\"") { return end &+ 1 }
            break
        }
        offset = i
        _ = try rawStringBody()
        return offset
    }

    /// The bytes of the next value, verbatim (validated). Useful to keep a sub-document for later.
    public mutating func rawValue() throws(JSONError) -> UnsafeRawBufferPointer {
        skipWhitespace()
        let start = offset
        try skipValue()
        return UnsafeRawBufferPointer(start: base + start, count: offset - start)
    }

    // MARK: Scalars

    public mutating func readNull() throws(JSONError) {
        skipWhitespace()
        try literal("null")
    }

    public mutating func readBool() throws(JSONError) -> Bool {
        skipWhitespace()
        guard offset < count else { throw JSONError(.syntax, at: offset, "unexpected end of JSON") }
        if base[offset] == UInt8(ascii: "t") {
            try literal("true")
            return true
        }
        try literal("false")
        return false
    }

    mutating func literal(_ word: StaticString) throws(JSONError) {
        let n = word.utf8CodeUnitCount
        guard offset + n <= count else { throw JSONError(.syntax, at: offset, "unexpected end of JSON") }
        let w = word.utf8Start
        for i in 0..<n where base[offset + i] != w[i] {
            throw JSONError(.syntax, at: offset, "invalid literal, expected '\(word)'")
        }
        offset += n
    }

    /// Reads a string value.
    public mutating func readString() throws(JSONError) -> String {
        skipWhitespace()
        guard offset < count, base[offset] == UInt8(ascii: "\"") else {
            throw JSONError(.type, at: offset, "expected a string")
        }
        let r = try rawStringBody()
        if !r.escaped {
            return String(decoding: UnsafeBufferPointer(start: base + r.start, count: r.end - r.start), as: UTF8.self)
        }
        return try decodeString(from: r.start, to: r.end)
    }

    /// Reads a string, or `nil` for a JSON null.
    public mutating func readOptionalString() throws(JSONError) -> String? {
        if try peekKind() == .null {
            try readNull()
            return nil
        }
        return try readString()
    }

    /// True when the next value is a string exactly equal to `expected` (which needs no escaping);
    /// consumes it either way.
    public mutating func readStringEquals(_ expected: StaticString) throws(JSONError) -> Bool {
        skipWhitespace()
        guard offset < count, base[offset] == UInt8(ascii: "\"") else {
            try skipValue()
            return false
        }
        let r = try rawStringBody()
        let n = expected.utf8CodeUnitCount
        guard !r.escaped, r.end - r.start == n else {
            return r.escaped ? (try decodeString(from: r.start, to: r.end)) == "\(expected)" : false
        }
        return memcmpEqual(base + r.start, expected.utf8Start, n)
    }

    /// Reads a number.
    public mutating func readNumber() throws(JSONError) -> JSONNumber {
        skipWhitespace()
        let (start, end, isInteger) = try readNumberRange()
        let text = String(decoding: UnsafeBufferPointer(start: base + start, count: end - start), as: UTF8.self)
        if isInteger, let i = Int64(text) { return JSONNumber(i) }
        // `readNumberRange` refused numbers out of a Double's range (found by the fuzzer: 1e400 was read
        // as infinity, which wrote back as null).
        guard let d = Double(text), d.isFinite else { throw JSONError(.syntax, at: start, "number out of range") }
        var n = JSONNumber(d)
        if !isInteger { n.int = d.rounded() == d && abs(d) < 9.0e18 ? Int64(d) : nil }
        return n
    }

    mutating func readNumberRange() throws(JSONError) -> (Int, Int, Bool) {
        skipWhitespace()
        let start = offset
        var isInteger = true
        if offset < count, base[offset] == UInt8(ascii: "-") { offset += 1 }
        guard offset < count, isDigit(base[offset]) else { throw JSONError(.syntax, at: start, "invalid number") }
        let integerStart = offset
        if base[offset] == UInt8(ascii: "0") {
            offset += 1
        } else {
            while offset < count, isDigit(base[offset]) { offset += 1 }
        }
        // Only an exponent or more than 308 integer digits can leave a Double's range.
        var mayOverflow = offset - integerStart > 308
        if offset < count, base[offset] == UInt8(ascii: ".") {
            isInteger = false
            offset += 1
            guard offset < count, isDigit(base[offset]) else { throw JSONError(.syntax, at: offset, "invalid number") }
            while offset < count, isDigit(base[offset]) { offset += 1 }
        }
        if offset < count, base[offset] == UInt8(ascii: "e") || base[offset] == UInt8(ascii: "E") {
            isInteger = false
            mayOverflow = true
            offset += 1
            if offset < count, base[offset] == UInt8(ascii: "+") || base[offset] == UInt8(ascii: "-") { offset += 1 }
            guard offset < count, isDigit(base[offset]) else { throw JSONError(.syntax, at: offset, "invalid number") }
            while offset < count, isDigit(base[offset]) { offset += 1 }
        }
        if mayOverflow {
            // Refused whether the number is read or skipped, so a document is valid or not whatever the
            // reader looks at (infinity is no JSON value: it would write back as null).
            let text = String(decoding: UnsafeBufferPointer(start: base + start, count: offset - start), as: UTF8.self)
            guard let d = Double(text), d.isFinite else { throw JSONError(.syntax, at: start, "number out of range") }
        }
        return (start, offset, isInteger)
    }

    /// Consumes a string token; returns the byte range of its body and whether it has escapes.
    /// Scans eight bytes at a time for a quote, a backslash or a control character.
    @usableFromInline
    mutating func rawStringBody() throws(JSONError) -> (start: Int, end: Int, escaped: Bool) {
        // Caller guarantees base[offset] == '"'.
        let start = offset + 1
        var escaped = false
        var i = start
        while true {
            i = firstSpecialByte(from: i)
            guard i < count else { break }
            let b = base[i]
            if b == UInt8(ascii: "\"") {
                offset = i + 1
                return (start, i, escaped)
            }
            offset = i
            if b == UInt8(ascii: "\\") {
                escaped = true
                try skipEscape(stringStart: start)
            } else if b < 0x20 {
                throw JSONError(.syntax, at: i, "control character in a string")
            } else {
                try skipUTF8Sequence()
            }
            i = offset
        }
        offset = count
        throw JSONError(.syntax, at: start - 1, "unterminated string")
    }

    /// The index of the first byte at or after `i` that a string's plain run ends at: a quote, a
    /// backslash, a control character or a non-ASCII byte (its UTF-8 is validated by the caller); `count`
    /// when there is none. Sixteen bytes a step: most of a Node update is long plain strings.
    @inline(__always)
    func firstSpecialByte(from start: Int) -> Int {
        var i = start
        let raw = UnsafeRawPointer(base)
        while i + 16 <= count {
            let low = specialByteMask(raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            let high = specialByteMask(raw.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self))
            if low | high != 0 {
                // The lowest flagged byte is always a real one (borrows only flag bytes above it).
                return low != 0 ? i + low.trailingZeroBitCount >> 3 : i + 8 + high.trailingZeroBitCount >> 3
            }
            i += 16
        }
        if i + 8 <= count {
            let mask = specialByteMask(raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            if mask != 0 { return i + mask.trailingZeroBitCount >> 3 }
            i += 8
        }
        while i < count {
            let b = base[i]
            if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") || b < 0x20 || b >= 0x80 { return i }
            i += 1
        }
        return i
    }

    /// Validates the escape at `offset` (a backslash) and steps over it. Every string is checked this way,
    /// skipped ones too: a document is valid JSON or refused, whichever members the reader looks at. A
    /// `\u` surrogate must come as a high-low pair (a lone one is not a Unicode scalar).
    @inline(__always)
    mutating func skipEscape(stringStart: Int) throws(JSONError) {
        guard offset + 1 < count else { throw JSONError(.syntax, at: stringStart - 1, "unterminated string") }
        switch base[offset + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
            UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            offset += 2
        case UInt8(ascii: "u"):
            let scalar = try hex4(at: offset + 2)
            if scalar >= 0xD800, scalar < 0xDC00 {
                guard offset + 12 <= count, base[offset + 6] == UInt8(ascii: "\\"), base[offset + 7] == UInt8(ascii: "u"),
                    case let low = try hex4(at: offset + 8), low >= 0xDC00, low < 0xE000
                else { throw JSONError(.syntax, at: offset, "unpaired surrogate in a \\u escape") }
                offset += 12
            } else if scalar >= 0xDC00, scalar < 0xE000 {
                throw JSONError(.syntax, at: offset, "unpaired surrogate in a \\u escape")
            } else {
                offset += 6
            }
        default:
            throw JSONError(.syntax, at: offset, "invalid escape '\\\(printable(base[offset + 1]))'")
        }
    }

    /// Validates the multi-byte UTF-8 sequence at `offset` (its lead byte is 0x80 or above) and steps over
    /// it: no overlong forms, no surrogates, nothing above U+10FFFF (RFC 3629's table).
    @inline(__always)
    mutating func skipUTF8Sequence() throws(JSONError) {
        let lead = base[offset]
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        let continuations: Int
        switch lead {
        case 0xC2...0xDF: continuations = 1
        case 0xE0: continuations = 2; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: continuations = 2
        case 0xED: continuations = 2; high = 0x9F
        case 0xF0: continuations = 3; low = 0x90
        case 0xF1...0xF3: continuations = 3
        case 0xF4: continuations = 3; high = 0x8F
        default: throw JSONError(.syntax, at: offset, "invalid UTF-8 in a string")
        }
        guard offset + continuations < count else { throw JSONError(.syntax, at: offset, "invalid UTF-8 in a string") }
        let second = base[offset + 1]
        guard second >= low, second <= high else { throw JSONError(.syntax, at: offset, "invalid UTF-8 in a string") }
        var k = 2
        while k <= continuations {
            guard base[offset + k] & 0xC0 == 0x80 else { throw JSONError(.syntax, at: offset, "invalid UTF-8 in a string") }
            k += 1
        }
        offset += continuations + 1
    }

    func decodeString(from start: Int, to end: Int) throws(JSONError) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(end - start)
        var i = start
        while i < end {
            let b = base[i]
            if b != UInt8(ascii: "\\") {
                out.append(b)
                i += 1
                continue
            }
            guard i + 1 < end else { throw JSONError(.syntax, at: i, "invalid escape") }
            let e = base[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4(at: i)
                i += 4
                if scalar >= 0xD800, scalar < 0xDC00 {
                    // A high surrogate must be followed by an escaped low surrogate (checked by the scan
                    // already; checked again so this never decodes what the scan did not validate).
                    guard i + 6 <= end, base[i] == UInt8(ascii: "\\"), base[i + 1] == UInt8(ascii: "u"),
                        case let low = try hex4(at: i + 2), low >= 0xDC00, low < 0xE000
                    else { throw JSONError(.syntax, at: i - 6, "unpaired surrogate in a \\u escape") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                }
                guard let us = Unicode.Scalar(scalar) else {
                    throw JSONError(.syntax, at: i - 6, "unpaired surrogate in a \\u escape")
                }
                appendUTF8(us, to: &out)
            default:
                throw JSONError(.syntax, at: i - 2, "invalid escape '\\\(printable(e))'")
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    func hex4(at i: Int) throws(JSONError) -> UInt32 {
        guard i + 4 <= count else { throw JSONError(.syntax, at: i, "invalid \\u escape") }
        var v: UInt32 = 0
        for k in 0..<4 {
            let c = base[i + k]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw JSONError(.syntax, at: i, "invalid \\u escape")
            }
            v = v << 4 | d
        }
        return v
    }
}

/// Appends a scalar's UTF-8 bytes.
@inline(__always) func appendUTF8(_ scalar: Unicode.Scalar, to out: inout [UInt8]) {
    let v = scalar.value
    switch v {
    case 0..<0x80:
        out.append(UInt8(v))
    case 0x80..<0x800:
        out.append(UInt8(0xC0 | (v >> 6)))
        out.append(UInt8(0x80 | (v & 0x3F)))
    case 0x800..<0x10000:
        out.append(UInt8(0xE0 | (v >> 12)))
        out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (v & 0x3F)))
    default:
        out.append(UInt8(0xF0 | (v >> 18)))
        out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
        out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (v & 0x3F)))
    }
}

/// The high bit of each byte of `word` (little-endian) that is '"', '\\', below 0x20 or above 0x7F is set (SWAR "has zero
/// byte" on transformed words); bytes above the first flagged one may be flagged falsely.
@inline(__always) func specialByteMask(_ word: UInt64) -> UInt64 {
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highs: UInt64 = 0x8080_8080_8080_8080
    let quote = word ^ (ones &* 0x22)
    let backslash = word ^ (ones &* 0x5C)
    let hasQuote = (quote &- ones) & ~quote & highs
    let hasBackslash = (backslash &- ones) & ~backslash & highs
    let hasControl = (word &- (ones &* 0x20)) & ~word & highs
    // Non-ASCII bytes stop the fast scan too, so their UTF-8 is validated.
    return hasQuote | hasBackslash | hasControl | (word & highs)
}

@inline(__always) func isDigit(_ b: UInt8) -> Bool { b &- UInt8(ascii: "0") < 10 }

@inline(__always) func printable(_ b: UInt8) -> String {
    (0x20..<0x7F).contains(b) ? String(UnicodeScalar(b)) : "\\x" + String(b, radix: 16)
}

@inline(__always) func memcmpEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    for i in 0..<n where a[i] != b[i] { return false }
    return true
}

extension UnsafeRawBufferPointer {
    /// True when these bytes spell `s` exactly.
    @inlinable
    public func equals(_ s: StaticString) -> Bool {
        let n = s.utf8CodeUnitCount
        guard count == n else { return false }
        let p = s.utf8Start
        for i in 0..<n where self[i] != p[i] { return false }
        return true
    }

    /// These bytes as a String (UTF-8).
    public var string: String { String(decoding: self, as: UTF8.self) }
}
