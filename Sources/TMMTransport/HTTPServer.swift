import CLinux
import Glibc
public import Logging
import TMMBase

/// A TLS HTTP/1.1 server on POSIX sockets and OpenSSL.
///
/// One acceptor thread takes connections off the listening socket and hands them, round robin, to a few
/// event-loop threads that do the TLS handshake, read requests, call the handler and write responses.
/// A connection costs a few kilobytes and a timer entry, not a thread.
public final class HTTPServer: Sendable {
    public let configuration: HTTPServerConfiguration
    /// The TLS context for new connections (the certificate reloader replaces it).
    public let contexts: TLSContextSource
    private let loops: [EventLoop]
    private let listener: Listener
    private let logger: Logger
    private let state = Locked<State>(State())
    private let wakePipe: (read: Int32, write: Int32)
    private let budget: RequestBodyBudget

    /// Request-body bytes the server holds now (see `HTTPServerConfiguration.maxBufferedBytes`).
    public var bufferedBodyBytes: Int { budget.held }

    private struct State {
        var threads: [OSThread] = []
        var acceptorThread: OSThread?
        var shuttingDown = false
        var started = false
    }

    /// The port the server listens on.
    public var port: Int { listener.port }

    /// Binds the listening socket. Nothing is served until `start()`.
    public init(
        configuration: HTTPServerConfiguration, tls: TLSContextSource, handler: any HTTPHandler,
        observer: any HTTPServerObserver = NoObserver(), logger: Logger
    ) throws {
        self.configuration = configuration
        self.contexts = tls
        self.logger = logger
        listener = try Listener.bind(host: configuration.host, port: configuration.port, backlog: configuration.backlog)
        var fds: [Int32] = [0, 0]
        guard tmm_pipe2(&fds, Int32(O_CLOEXEC | O_NONBLOCK)) == 0 else {
            close(listener.fd)
            throw Listener.Failure(description: "pipe2(): \(String(cString: strerror(errno)))")
        }
        wakePipe = (fds[0], fds[1])
        let budget = RequestBodyBudget(limit: configuration.maxBufferedBytes)
        self.budget = budget
        loops = (0..<max(1, configuration.eventLoopCount)).map {
            EventLoop(
                index: $0, configuration: configuration, handler: handler, observer: observer, contexts: tls,
                budget: budget, logger: logger)
        }
    }

    /// Starts the acceptor and event-loop threads and returns.
    public func start() {
        state.withLock { state in
            precondition(!state.started, "start() called twice")
            state.started = true
            // Request bodies over 256 KiB come from mmap and go back to the system when freed, so the
            // memory of a burst of large bodies is returned rather than kept in the heap (process-wide;
            // the server is the process's reason to be).
            _ = tmm_fix_mmap_threshold(256 * 1024)
            for (i, loop) in loops.enumerated() {
                state.threads.append(startThread(name: "tmm-loop-\(i)") { loop.run() })
            }
            state.acceptorThread = startThread(name: "tmm-accept") { [self] in acceptLoop() }
        }
    }

    /// Stops accepting, closes idle connections, lets requests in flight finish within the grace period,
    /// then returns once every thread has ended.
    public func shutdown() {
        let threads: [OSThread] = state.withLock { state in
            guard !state.shuttingDown else { return [] }
            state.shuttingDown = true
            return state.threads + (state.acceptorThread.map { [$0] } ?? [])
        }
        guard !threads.isEmpty else { return }
        var one: UInt8 = 1
        _ = write(wakePipe.write, &one, 1)
        let deadline = Deadline.now() + configuration.shutdownGracePeriod
        for loop in loops { loop.send(.beginShutdown(deadline: deadline)) }
        for thread in threads { thread.join() }
        close(wakePipe.read)
        close(wakePipe.write)
    }

    private func acceptLoop() {
        // A spare descriptor, released to accept-and-close one connection when the process is out of
        // descriptors, so a full backlog does not make poll() spin.
        var reserve = open("/dev/null", O_RDONLY | O_CLOEXEC)
        var lastExhaustionLog = Deadline.distantPast
        var next = 0
        var fds = [
            pollfd(fd: listener.fd, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakePipe.read, events: Int16(POLLIN), revents: 0),
        ]
        defer {
            close(listener.fd)
            if reserve >= 0 { close(reserve) }
        }
        while true {
            let n = poll(&fds, 2, -1)
            if n < 0 {
                if errno == EINTR { continue }
                logger.error("poll on the listening socket failed", metadata: ["errno": "\(errno)"])
                return
            }
            if fds[1].revents != 0 { return }
            guard fds[0].revents != 0 else { continue }
            while true {
                var storage = sockaddr_storage()
                var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let fd = withUnsafeMutablePointer(to: &storage) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        tmm_accept4(listener.fd, $0, &length, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
                    }
                }
                if fd < 0 {
                    let e = errno
                    if e == EAGAIN || e == EWOULDBLOCK { break }
                    if e == EINTR || e == ECONNABORTED || e == EPROTO { continue }
                    if e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM {
                        let now = Deadline.now()
                        if now - lastExhaustionLog > .seconds(5) {
                            lastExhaustionLog = now
                            logger.error(
                                "out of file descriptors: shedding new connections",
                                metadata: ["errno": "\(String(cString: strerror(e)))"])
                        }
                        if reserve >= 0 {
                            close(reserve)
                            let shed = accept(listener.fd, nil, nil)
                            if shed >= 0 { close(shed) }
                            reserve = open("/dev/null", O_RDONLY | O_CLOEXEC)
                        }
                        if reserve < 0 { usleep(100_000) }  // still exhausted: back off instead of spinning
                        break
                    }
                    logger.error("accept failed", metadata: ["errno": "\(String(cString: strerror(e)))"])
                    usleep(10_000)
                    break
                }
                var one: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                loops[next % loops.count].send(.adopt(fd: fd, remote: describe(storage)))
                next &+= 1
            }
        }
    }
}
