import TMMBase

// Used only by EventLoop/Connection until they move to Deadline (they are being rewritten; see issue #9).
// Everything else in TMMTransport speaks `Deadline` and `Duration`. Delete this file once those two stop
// calling it.

/// The monotonic clock as raw nanoseconds: `Deadline.now().uptimeNanoseconds`.
enum MonotonicClock {
    @inline(__always)
    static func now() -> UInt64 { Deadline.now().uptimeNanoseconds }
}

extension Duration {
    /// Whole nanoseconds, negative durations counting as zero, for `MonotonicClock.now() &+ timeout`.
    var nanoseconds: UInt64 { UInt64(max(0, totalNanoseconds)) }
}

extension HTTPRequest {
    /// A request whose `receivedAt` is a raw `MonotonicClock` reading.
    init(
        method: String, target: String, headers: [(name: String, value: String)] = [], body: ArraySlice<UInt8> = [],
        remoteAddress: String = "", receivedAt: UInt64, clientCertificateVerified: Bool = false
    ) {
        self.init(
            method: method, target: target, headers: headers, body: body, remoteAddress: remoteAddress,
            receivedAt: Deadline(uptimeNanoseconds: receivedAt), clientCertificateVerified: clientCertificateVerified)
    }
}

extension HTTPServerObserver {
    /// `responded(path:method:status:duration:)` with the duration as raw `MonotonicClock` nanoseconds.
    func responded(path: Substring, method: Substring, status: Int, durationNanoseconds: UInt64) {
        responded(path: path, method: method, status: status, duration: .nanoseconds(Int64(clamping: durationNanoseconds)))
    }
}
