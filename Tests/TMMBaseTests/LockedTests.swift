import Glibc
import Synchronization
import Testing
import TMMBase

/// The pthread-backed lock: one body at a time across threads, results and errors passed through, and the
/// mutex released on every way out of a body.
@Suite struct LockedTests {
    struct Refused: Error, Equatable {
        let code: Int
    }

    @Test func bodiesOnSeveralThreadsNeverOverlapAndLoseNoUpdate() {
        let threads = 4
        let rounds = 20_000
        // A read, a yield now and then, then the write: without mutual exclusion two threads read the same
        // count and one increment is lost; `holders` sees two bodies at once directly.
        let counter = Locked(0)
        let holders = Atomic<Int>(0)
        let overlaps = Atomic<Int>(0)
        let started = (0..<threads).map { index in
            startThread(name: "locked-test-\(index)") {
                for round in 0..<rounds {
                    counter.withLock { count in
                        if holders.add(1, ordering: .relaxed).newValue != 1 { overlaps.add(1, ordering: .relaxed) }
                        let seen = count
                        if round % 64 == 0 { sched_yield() }
                        count = seen + 1
                        holders.subtract(1, ordering: .relaxed)
                    }
                }
            }
        }
        for thread in started { thread.join() }
        #expect(counter.withLock { $0 } == threads * rounds)
        #expect(overlaps.load(ordering: .relaxed) == 0)
    }

    @Test func returnsWhatTheBodyReturns() {
        let lock = Locked([1, 2, 3])
        let (sum, count) = lock.withLock { values -> (Int, Int) in
            values.append(4)
            return (values.reduce(0, +), values.count)
        }
        #expect(sum == 10)
        #expect(count == 4)
        #expect(lock.withLock { $0 } == [1, 2, 3, 4])
    }

    @Test func rethrowsTheBodysErrorAndReleasesTheMutex() {
        let lock = Locked(0)
        #expect(throws: Refused(code: 7)) {
            try lock.withLock { (value: inout Int) throws(Refused) -> Int in
                value = 5
                throw Refused(code: 7)
            }
        }
        // What the body changed before it threw stays (as with Mutex), and the mutex is free again, also
        // for another thread: a lock left held would hang here (error-checking mutex: or trap).
        let other = startThread(name: "locked-test") { lock.withLock { $0 += 1 } }
        other.join()
        #expect(lock.withLock { $0 } == 6)
    }

    @Test func lockingAgainOnTheHoldingThreadTrapsInsteadOfDeadlocking() async {
        await #expect(processExitsWith: .failure) {
            let lock = Locked(0)
            lock.withLock { _ in lock.withLock { $0 += 1 } }
        }
    }
}
