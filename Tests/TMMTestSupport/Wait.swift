public import Foundation
public import Testing
public import TMMBase

// Every wait in the tests goes through this file, on the monotonic clock: a test waits for a condition
// with a deadline, never for a fixed time. Only `holds(for:)` and `observe(for:)` watch for a fixed
// time, and only for what must NOT happen (there is no condition to wait for in a negative).

/// A monotonic deadline `seconds` from now (what the transport and the Kubernetes client take).
public func deadline(_ seconds: Double) -> Deadline { .now() + .seconds(seconds) }

/// Seconds on the monotonic clock since `start` (a `Deadline.now()`), for messages and for bounds
/// that tell a deadline from a much later event (never a performance claim: tests run in parallel).
public func seconds(since start: Deadline) -> Double { start.elapsed().inSeconds }

/// Waits until `condition` holds or `timeout` seconds pass, checking every `interval` seconds; returns
/// whether it held. For callers that decide themselves what a timeout means.
@discardableResult
public func waitUntil(timeout: Double, interval: Double = 0.01, _ condition: () throws -> Bool) rethrows -> Bool {
    let end = deadline(timeout)
    while true {
        if try condition() { return true }
        if end.hasPassed() { return false }
        pause(min(interval, secondsUntil(end)))
    }
}

/// Waits until `condition` holds, and fails the test (naming `what`) if it does not within `timeout`
/// seconds.
public func waitUntil(
    _ what: String, timeout: Double, interval: Double = 0.01, sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () throws -> Bool
) throws {
    let held = try waitUntil(timeout: timeout, interval: interval, condition)
    try #require(held, "timed out after \(timeout) s waiting for \(what)", sourceLocation: sourceLocation)
}

/// Waits until `produce` returns a value, and returns it; nil if none came within `timeout` seconds.
public func waitForValue<Value>(timeout: Double, interval: Double = 0.01, _ produce: () throws -> Value?) rethrows -> Value? {
    var value: Value?
    try waitUntil(timeout: timeout, interval: interval) {
        value = try produce()
        return value != nil
    }
    return value
}

/// Waits until `process` has exited; returns false if it still runs after `timeout` seconds (the caller
/// decides whether to kill it and what to record). Once it returns true, `terminationStatus` is valid.
@discardableResult
public func waitForExit(_ process: Process, timeout: Double) -> Bool {
    guard waitUntil(timeout: timeout, { !process.isRunning }) else { return false }
    process.waitUntilExit()  // returns at once: it has exited; this settles the termination status
    return true
}

/// Checks that `condition` stays true for `seconds`, polled every `interval`: for what must NOT happen
/// (an annotation that must not be removed, a request that must not be sent). A bounded observation
/// window, since a negative has no condition to wait for. Returns false at the first check that fails.
public func holds(for seconds: Double, interval: Double = 0.05, _ condition: () throws -> Bool) rethrows -> Bool {
    let end = deadline(seconds)
    while !end.hasPassed() {
        if try !condition() { return false }
        pause(min(interval, secondsUntil(end)))
    }
    return try condition()
}

/// Lets `seconds` pass: an observation window for a measurement of what must NOT happen meanwhile (a
/// server spinning on a closed connection burns the whole window in CPU time). Never a way to wait for
/// something to happen: use `waitUntil` for that.
public func observe(for seconds: Double) {
    let end = deadline(seconds)
    while !end.hasPassed() { pause(secondsUntil(end)) }
}

private func secondsUntil(_ end: Deadline) -> Double {
    end.timeRemaining(now: .now()).inSeconds
}

private func pause(_ seconds: Double) {
    guard seconds > 0 else { return }
    usleep(UInt32(min(seconds, 1) * 1_000_000))
}
