import CLinux
import Glibc

/// An OS thread started by `startThread`. Blocking work (accept, epoll_wait, SSL_read, watches) lives on
/// these threads, never on Swift's cooperative pool.
public struct OSThread: Sendable {
    let handle: pthread_t

    /// Waits for the thread to end.
    public func join() { pthread_join(handle, nil) }
}

/// Starts an OS thread named `name` (shown by `top -H` and in core dumps; the kernel keeps 15 bytes of it)
/// that runs `body`; `join()` waits for it.
@discardableResult
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
