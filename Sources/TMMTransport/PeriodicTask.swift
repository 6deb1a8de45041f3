import Glibc
import Synchronization

/// Runs `body` every `interval` on a thread of its own until stopped (file watchers, reconcilers).
/// Stopping takes effect within 100 ms.
public final class PeriodicTask: Sendable {
    private let name: String
    private let interval: Duration
    private let body: @Sendable () -> Void
    private let state = Mutex<(stopped: Bool, thread: OSThread?)>((false, nil))

    public init(name: String, interval: Duration, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.interval = interval
        self.body = body
    }

    public func start() {
        let thread = startThread(name: name) { [self] in
            let step: UInt64 = 100_000_000
            var waited: UInt64 = 0
            while !state.withLock({ $0.stopped }) {
                usleep(UInt32(step / 1000))
                waited += step
                if waited >= interval.nanoseconds {
                    waited = 0
                    body()
                }
            }
        }
        state.withLock { $0.thread = thread }
    }

    public func stop() {
        let thread = state.withLock { state -> OSThread? in
            state.stopped = true
            defer { state.thread = nil }
            return state.thread
        }
        thread?.join()
    }
}
