import Glibc

/// A value behind a `pthread_mutex_t`: the lock for state that several threads share.
///
/// It stands in for `Synchronization.Mutex`, with the same `withLock`, for the sake of ThreadSanitizer.
/// On Linux a contended `Mutex` is handed from thread to thread by `futex` system calls made inside the
/// Synchronization library, which TSan neither instruments nor intercepts: it then sees no happens-before
/// edge between the two `withLock` bodies and reports the state they guard as raced (four threads
/// appending to an array under a `Mutex` gave a report; under this lock, none). `pthread_mutex_lock` and
/// `pthread_mutex_unlock` it intercepts, so behind this lock a TSan report is a real race (swift-nio's
/// `NIOLockedValueBox` exists for the same reason).
///
/// The mutex is error-checking, so locking it again on the thread that holds it traps (as `Mutex` does)
/// instead of deadlocking. It sits in an allocation of its own rather than in a stored property: a pthread
/// mutex must never move once initialized, and Swift promises no fixed address for `&property`.
///
/// `@unchecked Sendable`: the value is only touched inside `withLock`, with the mutex held, and it enters
/// and leaves only as `sending` values, the same contract as `Mutex`.
public final class Locked<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    /// A lock guarding `value`.
    public init(_ value: sending Value) {
        var attributes = pthread_mutexattr_t()
        var rc = pthread_mutexattr_init(&attributes)
        precondition(rc == 0, "pthread_mutexattr_init failed: \(rc)")
        defer { pthread_mutexattr_destroy(&attributes) }
        rc = pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_ERRORCHECK))
        precondition(rc == 0, "pthread_mutexattr_settype failed: \(rc)")
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        rc = pthread_mutex_init(mutex, &attributes)
        precondition(rc == 0, "pthread_mutex_init failed: \(rc)")
        self.value = value
    }

    deinit {
        let rc = pthread_mutex_destroy(mutex)
        precondition(rc == 0, "pthread_mutex_destroy failed: \(rc)")
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` on the value with the mutex held and returns what it returns; an error `body` throws
    /// is rethrown after the mutex is released. `body` must not call `withLock` on the same lock.
    public func withLock<R, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending R
    ) throws(E) -> sending R {
        var rc = pthread_mutex_lock(mutex)
        precondition(rc == 0, "pthread_mutex_lock failed: \(rc)")
        defer {
            rc = pthread_mutex_unlock(mutex)
            precondition(rc == 0, "pthread_mutex_unlock failed: \(rc)")
        }
        return try body(&value)
    }
}
