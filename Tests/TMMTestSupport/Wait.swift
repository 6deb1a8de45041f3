import Glibc
public import Testing
import TMMBase

/// Waits until `condition` holds, polling on the monotonic clock, and fails the test (naming `what`) if
/// it does not within `timeout` seconds. Tests wait on conditions, never on fixed sleeps.
public func waitUntil(
    _ what: String, timeout: Double, sourceLocation: SourceLocation = #_sourceLocation, _ condition: () throws -> Bool
) throws {
    let end = Deadline.now() + .seconds(timeout)
    while true {
        if try condition() { return }
        if end.hasPassed() { break }
        usleep(5_000)
    }
    try #require(try condition(), "timed out after \(timeout) s waiting for \(what)", sourceLocation: sourceLocation)
}
