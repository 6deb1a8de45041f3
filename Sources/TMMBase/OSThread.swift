import CLinux
import Glibc

/// An OS thread started by `startThread`. Blocking work (accept, epoll_wait, SSL_read, watches) lives on
/// these threads, never on Swift's cooperative pool.
///
/// Each thread is either joined or detached, once: an ended thread that is neither keeps its stack and
/// descriptor until the process exits (and ThreadSanitizer reports it as a thread leak).
public struct OSThread: Sendable {
    let handle: pthread_t

    /// Waits for the thread to end.
    public func join() { pthread_join(handle, nil) }

    /// For a thread no one will wait for: its resources go back to the system as soon as it ends.
    public func detach() {
        let rc = pthread_detach(handle)
        precondition(rc == 0, "pthread_detach failed: \(rc)")
    }
}

/// Starts an OS thread named `name` (shown by `top -H` and in core dumps; the kernel keeps 15 bytes of it)
/// that runs `body`; `join()` waits for it, or `detach()` lets it go.
public func startThread(name: String, _ body: @escaping @Sendable () -> Void) -> OSThread {
    // pthread_create takes one raw pointer; the box carries the name and body across, retained once.
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
