import CLinux
import Glibc

/// Nanoseconds from `CLOCK_MONOTONIC`: immune to wall-clock steps, for deadlines and durations.
public enum MonotonicClock {
    @inline(__always)
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}

/// Starts a detached-by-join OS thread that runs `body`. Blocking work lives on these threads, never on
/// Swift's cooperative pool.
/// An OS thread started by `startThread`.
public struct OSThread: Sendable {
    let handle: pthread_t

    /// Waits for the thread to end.
    public func join() { pthread_join(handle, nil) }
}

/// Starts an OS thread that runs `body`; `join()` waits for it.
@discardableResult
public func startThread(name: String, _ body: @escaping @Sendable () -> Void) -> OSThread {
    final class Box {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }
    let box = Unmanaged.passRetained(Box(name: name, body: body)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(
        &thread, nil,
        { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            _ = tmm_set_thread_name(String(box.name.prefix(15)))
            box.body()
            return nil
        }, box)
    precondition(rc == 0, "pthread_create failed: \(rc)")
    return OSThread(handle: thread)
}
