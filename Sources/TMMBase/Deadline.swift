// Public so that `now()` can be inlined into callers (the event loop reads the clock per event).
public import Glibc

/// A point in time on `CLOCK_MONOTONIC`: a deadline ("answer by"), or a timestamp ("request started at").
///
/// The monotonic clock does not jump when the wall clock is stepped (NTP, an operator), so a deadline set
/// now still means "this long from now" when it is checked. Instants and durations are kept apart: the
/// difference of two deadlines, and what is added to one, is the standard library's `Duration`.
/// A trivial struct over one `UInt64`, so the event loop can read the clock per event without cost.
public struct Deadline: Comparable, Hashable, Sendable {
    /// Nanoseconds since an unspecified start (boot, on Linux). Meaningful only relative to another
    /// deadline; public for metrics and logs that want the raw number.
    public let uptimeNanoseconds: UInt64

    /// The deadline `uptimeNanoseconds` after the clock's start.
    @inlinable
    public init(uptimeNanoseconds: UInt64) {
        self.uptimeNanoseconds = uptimeNanoseconds
    }

    /// The current time on the monotonic clock.
    @inlinable @inline(__always)
    public static func now() -> Deadline {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Deadline(uptimeNanoseconds: UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec))
    }

    /// Earlier than any deadline the clock gives: "unset", or a deadline that has always passed.
    public static let distantPast = Deadline(uptimeNanoseconds: 0)

    /// Later than any deadline the clock gives: "no deadline".
    public static let distantFuture = Deadline(uptimeNanoseconds: .max)

    /// `deadline` moved by `duration` (later when positive), saturating at `distantPast` and
    /// `distantFuture` rather than wrapping, so `.distantFuture + timeout` stays "never".
    @inlinable
    public static func + (deadline: Deadline, duration: Duration) -> Deadline {
        let delta = duration.totalNanoseconds
        if delta >= 0 {
            let (sum, overflow) = deadline.uptimeNanoseconds.addingReportingOverflow(UInt64(delta))
            return Deadline(uptimeNanoseconds: overflow ? .max : sum)
        }
        let magnitude = delta.magnitude
        return Deadline(uptimeNanoseconds: deadline.uptimeNanoseconds > magnitude ? deadline.uptimeNanoseconds - magnitude : 0)
    }

    /// `deadline` moved earlier by `duration`, saturating like `+`.
    @inlinable
    public static func - (deadline: Deadline, duration: Duration) -> Deadline {
        deadline + (.zero - duration)
    }

    /// Moves the deadline by `duration`, saturating like `+`.
    @inlinable
    public static func += (deadline: inout Deadline, duration: Duration) {
        deadline = deadline + duration
    }

    /// How long from `earlier` to `later`; negative when `later` is in fact the earlier one. Saturates at
    /// about ±292 years (`Int64` nanoseconds), which only the distant deadlines reach.
    @inlinable
    public static func - (later: Deadline, earlier: Deadline) -> Duration {
        let a = later.uptimeNanoseconds
        let b = earlier.uptimeNanoseconds
        if a >= b { return .nanoseconds(Int64(clamping: a - b)) }
        return .nanoseconds(-Int64(clamping: b - a))
    }

    /// Whether the deadline is at or before `now`.
    @inlinable
    public func hasPassed(now: Deadline = .now()) -> Bool {
        self <= now
    }

    /// How long until the deadline, from `now`; zero once it has passed (never negative).
    @inlinable
    public func timeRemaining(now: Deadline = .now()) -> Duration {
        self > now ? self - now : .zero
    }

    /// How long since `self`, to `now`; zero for a deadline still ahead (never negative).
    @inlinable
    public func elapsed(now: Deadline = .now()) -> Duration {
        now > self ? now - self : .zero
    }

    /// Orders by time on the monotonic clock.
    @inlinable
    public static func < (lhs: Deadline, rhs: Deadline) -> Bool {
        lhs.uptimeNanoseconds < rhs.uptimeNanoseconds
    }
}

extension Deadline: CustomStringConvertible {
    /// The raw clock reading, for logs (`12.345678901s` since the clock's start).
    public var description: String {
        let ns = uptimeNanoseconds
        let fraction = String(ns % 1_000_000_000)
        return "\(ns / 1_000_000_000).\(String(repeating: "0", count: 9 - fraction.count))\(fraction)s"
    }
}
