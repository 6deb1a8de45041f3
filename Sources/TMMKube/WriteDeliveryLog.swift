public import TMMBase

/// Times writes to their watch events: how long after a write's answer was read its event arrived on
/// the watch.
///
/// The freshness check's quiet wait assumes that an event arrives within `quietAfter` of the moment the
/// API server answered for it (a probe's answer there, a write's answer here: both leave the API server
/// after the commit they report). This measures that assumption on the writes the webhook makes itself.
///
/// An event may arrive before its write's answer is read, so arrivals are noted while writes are in
/// flight (between ``begin()`` and ``answered(_:now:)``) and matched when the answers are registered.
struct WriteDeliveryLog: Sendable {
    /// Writes answered whose event has not arrived yet: resourceVersion → when the answer was read.
    private var awaiting: [UInt64: Deadline] = [:]
    /// Events that arrived while writes were in flight: resourceVersion → arrival.
    private var arrived: [UInt64: Deadline] = [:]
    /// Batches of writes in flight.
    private var inFlight = 0

    /// A write whose event has not come this long after its answer is forgotten (a relist replaced the
    /// event, or the object was written again first).
    static var forgetAfter: Duration { .seconds(60) }

    var awaitingCount: Int { awaiting.count }

    /// Writes are about to be made: note arrivals from now on.
    mutating func begin() { inFlight += 1 }

    /// The writes of one batch, answered; returns the delays of those whose event has already arrived
    /// (zero when it came before the answer was read). The others are matched as their events arrive.
    mutating func answered(_ writes: [AnsweredWrite], now: Deadline) -> [Duration] {
        var delays: [Duration] = []
        for write in writes {
            if let at = arrived[write.resourceVersion] {
                delays.append(max(.zero, at - write.answeredAt))
            } else {
                awaiting[write.resourceVersion] = write.answeredAt
            }
        }
        inFlight = max(0, inFlight - 1)
        if inFlight == 0 { arrived = [:] }
        awaiting = awaiting.filter { now - $0.value < Self.forgetAfter }
        return delays
    }

    /// An event with `resourceVersion` arrived at `now`: its delay if it is one of the writes.
    mutating func eventArrived(_ resourceVersion: UInt64, now: Deadline) -> Duration? {
        if let at = awaiting.removeValue(forKey: resourceVersion) { return max(.zero, now - at) }
        if inFlight > 0 { arrived[resourceVersion] = now }
        return nil
    }
}

/// A write the API server answered: the resourceVersion it gave the object, and when the answer was read.
public struct AnsweredWrite: Sendable, Equatable {
    public var resourceVersion: UInt64
    public var answeredAt: Deadline
    public init(resourceVersion: UInt64, answeredAt: Deadline) {
        self.resourceVersion = resourceVersion
        self.answeredAt = answeredAt
    }
}
