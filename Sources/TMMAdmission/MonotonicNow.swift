import Glibc

/// Monotonic nanoseconds (the same clock as the transport's), for durations in logs.
enum MonotonicNow {
    static func read() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}
