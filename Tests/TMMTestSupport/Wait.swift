import Glibc
public import Testing
import TMMTransport

/// Waits until `condition` holds, polling on the monotonic clock, and fails the test (naming `what`) if
/// it does not within `timeout` seconds. Tests wait on conditions, never on fixed sleeps.
public func waitUntil(
    _ what: String, timeout: Double, sourceLocation: SourceLocation = #_sourceLocation, _ condition: () throws -> Bool
) throws {
    let end = MonotonicClock.now() &+ UInt64(timeout * 1e9)
    while true {
        if try condition() { return }
        if MonotonicClock.now() >= end { break }
        usleep(5_000)
    }
    try #require(try condition(), "timed out after \(timeout) s waiting for \(what)", sourceLocation: sourceLocation)
}
