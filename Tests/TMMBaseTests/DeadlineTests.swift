import Glibc
import Synchronization
import Testing
import TMMBase

/// Deadline arithmetic (saturation at both ends, signed differences) and the clock itself.
@Suite struct DeadlineTests {
    @Test func theClockDoesNotGoBackwardsAndMovesForward() {
        let first = Deadline.now()
        var previous = first
        for _ in 0..<1000 {
            let next = Deadline.now()
            #expect(next >= previous)
            previous = next
        }
        usleep(2_000)
        #expect(Deadline.now() - first >= .milliseconds(2))
        #expect(first > .distantPast && first < .distantFuture)
    }

    @Test(arguments: [
        (UInt64(1_000), Duration.nanoseconds(500), UInt64(1_500)),
        (1_000, .nanoseconds(-500), 500),
        (1_000, .nanoseconds(-5_000), 0),  // clamps at the distant past instead of wrapping
        (UInt64.max - 10, .seconds(1), UInt64.max),  // clamps at the distant future
        (0, .seconds(3) + .nanoseconds(7), 3_000_000_007),
        (5, .zero, 5),
    ])
    func addingADurationSaturates(start: UInt64, duration: Duration, expected: UInt64) {
        #expect((Deadline(uptimeNanoseconds: start) + duration).uptimeNanoseconds == expected)
        var moved = Deadline(uptimeNanoseconds: start)
        moved += duration
        #expect(moved.uptimeNanoseconds == expected)
    }

    @Test func subtractingADurationMovesEarlier() {
        #expect((Deadline(uptimeNanoseconds: 2_000) - .nanoseconds(500)).uptimeNanoseconds == 1_500)
        #expect((Deadline(uptimeNanoseconds: 2_000) - .seconds(1)) == .distantPast)
        #expect((Deadline.distantFuture - .seconds(-1)) == .distantFuture)
    }

    @Test func theDifferenceOfTwoDeadlinesIsSigned() {
        let a = Deadline(uptimeNanoseconds: 1_000_000_000)
        let b = Deadline(uptimeNanoseconds: 3_500_000_000)
        #expect(b - a == .milliseconds(2_500))
        #expect(a - b == .milliseconds(-2_500))
        #expect(a - a == .zero)
        // Beyond Int64 nanoseconds the difference clamps rather than trapping.
        #expect(Deadline.distantFuture - .distantPast == .nanoseconds(Int64.max))
        #expect(Deadline.distantPast - .distantFuture == .nanoseconds(-Int64.max))
    }

    @Test func remainingAndElapsedAreNeverNegative() {
        let now = Deadline(uptimeNanoseconds: 10_000)
        let later = Deadline(uptimeNanoseconds: 12_000)
        #expect(later.timeRemaining(now: now) == .nanoseconds(2_000))
        #expect(now.timeRemaining(now: later) == .zero)
        #expect(now.elapsed(now: later) == .nanoseconds(2_000))
        #expect(later.elapsed(now: now) == .zero)
        #expect(!later.hasPassed(now: now))
        #expect(now.hasPassed(now: now))  // due exactly now counts as passed
        #expect(now.hasPassed(now: later))
        #expect(Deadline.distantPast.hasPassed())
        #expect(!Deadline.distantFuture.hasPassed())
    }

    @Test func orderingAndHashingFollowTheClockReading() {
        let a = Deadline(uptimeNanoseconds: 1)
        let b = Deadline(uptimeNanoseconds: 2)
        #expect(a < b && !(b < a) && a != b)
        #expect(Set([a, b, Deadline(uptimeNanoseconds: 1)]).count == 2)
        #expect(min(b, a) == a)
    }

    @Test func describesItselfInSeconds() {
        #expect(Deadline(uptimeNanoseconds: 12_000_000_345).description == "12.000000345s")
        #expect(Deadline.distantPast.description == "0.000000000s")
    }

    @Test(arguments: [
        (Duration.seconds(2) + .nanoseconds(5), Int64(2_000_000_005)),
        (.milliseconds(-1_500), -1_500_000_000),
        (.nanoseconds(-1), -1),
        (.seconds(Int64.max), .max),  // clamps
        (.seconds(Int64.min), .min),
        (.zero, 0),
    ])
    func durationsConvertToWholeNanoseconds(duration: Duration, nanoseconds: Int64) {
        #expect(duration.totalNanoseconds == nanoseconds)
    }

    @Test func durationsConvertToFractionalUnits() {
        #expect(Duration.microseconds(1_500).inMilliseconds == 1.5)
        #expect(Duration.milliseconds(-250).inMilliseconds == -250)
        #expect(Duration.milliseconds(1_250).inSeconds == 1.25)
        #expect(Duration.seconds(0.5).inSeconds == 0.5)
    }
}

/// OS threads: the body runs on another thread, named as asked; `join` waits for it, `detach` lets it go.
@Suite struct OSThreadTests {
    @Test func runsTheBodyOnANamedThreadAndJoins() {
        let seen = Mutex<(ran: Bool, name: String, sameThread: Bool)>((false, "", true))
        let caller = pthread_self()
        let thread = startThread(name: "tmm-base-test-thread-long-name") {
            // pthread_getname_np is hidden behind _GNU_SOURCE; the kernel shows the name here too.
            var buffer = [CChar](repeating: 0, count: 32)
            if let file = fopen("/proc/thread-self/comm", "r") {
                _ = fgets(&buffer, Int32(buffer.count), file)
                fclose(file)
            }
            let name = String(decoding: buffer.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let same = pthread_equal(pthread_self(), caller) != 0
            seen.withLock { $0 = (true, name, same) }
        }
        thread.join()
        let result = seen.withLock { $0 }
        #expect(result.ran)
        #expect(!result.sameThread)
        #expect(result.name == "tmm-base-test-t")  // the kernel keeps 15 bytes
    }

    @Test func detachedThreadsRunTheirBody() {
        let ran = Atomic<Int>(0)
        startThread(name: "tmm-base-detach") { ran.add(1, ordering: .relaxed) }.detach()
        // Detached once it may have ended already: allowed too (pthread_detach then frees it at once).
        let second = startThread(name: "tmm-base-detach") { ran.add(1, ordering: .relaxed) }
        let end = Deadline.now() + .seconds(10)
        while ran.load(ordering: .relaxed) < 2 && !end.hasPassed() { usleep(1_000) }
        second.detach()
        #expect(ran.load(ordering: .relaxed) == 2)
    }
}
