extension Duration {
    /// Whole nanoseconds, truncated toward zero and clamped to `Int64` (about ±292 years), for clock
    /// arithmetic and for metrics that record integers. The standard library offers only
    /// `components` (seconds and attoseconds).
    @inlinable
    public var totalNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflow2) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        if overflow2 { return seconds < 0 ? .min : .max }
        return sum
    }

    /// The duration in milliseconds, with a fraction: the unit logs and poll(2) speak.
    @inlinable
    public var inMilliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1e3 + Double(attoseconds) / 1e15
    }

    /// The duration in seconds, with a fraction: the unit Prometheus and most settings speak.
    @inlinable
    public var inSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
