/// Finds the end of a request head (`\r\n\r\n`) in a buffer that grows between calls, looking at each byte
/// about once: a peer that sends its head a byte at a time costs linear work, not a rescan per read.
struct HTTPHeadFinder {
    /// Bytes of the unread input already searched without finding the end.
    private(set) var searched = 0
    /// Bytes compared so far, over this finder's life (for tests of linearity).
    private(set) var examined = 0

    /// Length of the head (up to, not including, the blank line) in `unread`, or nil while the blank line
    /// has not arrived. `unread` must begin where it began at the previous call and may only have grown.
    mutating func find(in unread: UnsafeRawBufferPointer) -> Int? {
        // The end marker may straddle what was searched and what is new: back up three bytes.
        let from = max(0, searched - 3)
        let tail = UnsafeRawBufferPointer(rebasing: unread[from...])
        if let end = findHeadEnd(tail, examined: &examined) { return from + end }
        searched = unread.count
        return nil
    }

    /// Starts over, for the next request on the connection.
    mutating func reset() { searched = 0 }
}

/// Length of the head (up to, not including, the blank line), or nil if the blank line has not arrived.
func findHeadEnd(_ bytes: UnsafeRawBufferPointer) -> Int? {
    var examined = 0
    return findHeadEnd(bytes, examined: &examined)
}

@inline(__always)
func findHeadEnd(_ bytes: UnsafeRawBufferPointer, examined: inout Int) -> Int? {
    let n = bytes.count
    guard n >= 4 else { return nil }
    var i = 0
    defer { examined += i }
    while i <= n - 4 {
        if bytes[i + 3] != 0x0A {
            i += 1
            continue
        }
        if bytes[i] == 0x0D, bytes[i + 1] == 0x0A, bytes[i + 2] == 0x0D { return i }
        i += 1
    }
    return nil
}
