import Testing
import TMMBase
@testable import TMMKube

@Suite struct WriteDeliveryLogTests {
    let t0 = Deadline.now()
    func at(_ ms: Int) -> Deadline { t0 + .milliseconds(ms) }
    func write(_ version: UInt64, answeredAt ms: Int) -> AnsweredWrite { AnsweredWrite(resourceVersion: version, answeredAt: at(ms)) }

    /// An event that comes after its write's answer is timed from the answer.
    @Test func anEventAfterItsAnswerIsTimedFromTheAnswer() {
        var log = WriteDeliveryLog()
        log.begin()
        #expect(log.answered([write(10, answeredAt: 0), write(11, answeredAt: 2)], now: at(3)).isEmpty)
        #expect(log.eventArrived(11, now: at(9)) == .milliseconds(7))
        #expect(log.eventArrived(10, now: at(40)) == .milliseconds(40))
        // Each is timed once; other events are not ours.
        #expect(log.eventArrived(10, now: at(41)) == nil)
        #expect(log.eventArrived(12, now: at(42)) == nil)
        #expect(log.awaitingCount == 0)
    }

    /// An event can come before its write's answer is read: noted while writes are in flight, it is
    /// matched when the answers are registered (a delay of zero).
    @Test func anEventBeforeItsAnswerCountsAsNoDelay() {
        var log = WriteDeliveryLog()
        log.begin()
        #expect(log.eventArrived(20, now: at(5)) == nil)
        #expect(log.eventArrived(99, now: at(6)) == nil)  // someone else's write
        #expect(log.answered([write(20, answeredAt: 8), write(21, answeredAt: 8)], now: at(9)) == [.zero])
        #expect(log.awaitingCount == 1)
        // Outside a batch, arrivals are not noted: a later answer for 99 is left to its own event.
        #expect(log.eventArrived(98, now: at(10)) == nil)
        log.begin()
        #expect(log.answered([write(98, answeredAt: 11)], now: at(12)).isEmpty)
        #expect(log.eventArrived(21, now: at(30)) == .milliseconds(22))
    }

    /// A write whose event never comes (a relist took its place) is forgotten after a minute.
    @Test func aWriteWhoseEventNeverComesIsForgotten() {
        var log = WriteDeliveryLog()
        log.begin()
        _ = log.answered([write(30, answeredAt: 0)], now: at(1))
        log.begin()
        _ = log.answered([write(31, answeredAt: 61_000)], now: at(61_001))
        #expect(log.awaitingCount == 1)
        #expect(log.eventArrived(30, now: at(61_002)) == nil)
        #expect(log.eventArrived(31, now: at(61_010)) == .milliseconds(10))
    }
}
