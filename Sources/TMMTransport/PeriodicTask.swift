import Glibc
import TMMBase

/// Runs `body` every `interval` on a thread of its own until stopped (file watchers, reconcilers).
/// Stopping takes effect within 100 ms.
public final class PeriodicTask: Sendable {
    private let name: String
    private let interval: Duration
    private let body: @Sendable () -> Void
    private let state = Locked<(stopped: Bool, thread: OSThread?)>((false, nil))

    public init(name: String, interval: Duration, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.interval = interval
        self.body = body
    }

    public func start() {
        let thread = startThread(name: name) { [self] in
            // Sleeps in short steps rather than the whole interval, so `stop` is not kept waiting.
            let step = Duration.milliseconds(100)
            var waited = Duration.zero
            while !state.withLock({ $0.stopped }) {
                usleep(UInt32(step.totalNanoseconds / 1000))
                waited += step
                if waited >= interval {
                    waited = .zero
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
