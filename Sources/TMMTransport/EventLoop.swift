import CLinux
import Glibc
import Logging
import TMMBase

/// An epoll loop on its own thread, serving many connections: it does their I/O (TLS handshakes, reads,
/// writes, epoll interest, timers) and calls the handler. The HTTP/1.1 protocol of each connection is its
/// `HTTPConnectionStateMachine`; the loop only performs the actions the machine returns. No call on it
/// blocks; a slow or silent peer only costs a timer check.
///
/// Everything but `inbox` is confined to the loop's thread; `inbox` is behind a lock (`Locked`), which is what
/// makes the `@unchecked Sendable` safe.
final class EventLoop: @unchecked Sendable {
    enum Message {
        case adopt(fd: Int32, remote: String)
        case response(fd: Int32, connectionID: UInt64, HTTPResponse)
        case beginShutdown(deadline: Deadline)
        case streamHead(fd: Int32, connectionID: UInt64, HTTPResponse)
        case streamPart(fd: Int32, connectionID: UInt64, HTTPConnectionStateMachine.StreamPart)
    }

    private let epfd: Int32
    private let wakeFD: Int32
    private let inbox = Locked<[Message]>([])
    private var connections: [Int32: Connection] = [:]
    private var nextConnectionID: UInt64 = 1
    private let index: Int

    private let configuration: HTTPServerConfiguration
    private let handler: any HTTPHandler
    private let observer: any HTTPServerObserver
    private let contexts: TLSContextSource
    private let logger: Logger
    /// Request-body bytes all loops of the server may hold at once.
    private let budget: RequestBodyBudget
    private let limits: HTTPConnectionStateMachine.Limits

    /// Set while a handler runs on this thread, so an immediate `respond` is taken inline.
    private var inlineConnection: Connection?
    private var inlineResponse: HTTPResponse?
    private var draining = false
    private var drainDeadline = Deadline.distantFuture
    private var stopped = false
    /// When connections were last checked for timeouts (about every 250 ms).
    private var nextSweep = Deadline.distantPast

    init(
        index: Int, configuration: HTTPServerConfiguration, handler: any HTTPHandler, observer: any HTTPServerObserver,
        contexts: TLSContextSource, budget: RequestBodyBudget, logger: Logger
    ) {
        self.index = index
        self.budget = budget
        self.configuration = configuration
        self.handler = handler
        self.observer = observer
        self.contexts = contexts
        self.logger = logger
        self.limits = HTTPConnectionStateMachine.Limits(configuration)
        epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
        precondition(epfd >= 0, "epoll_create1 failed: \(String(cString: strerror(errno)))")
        wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        precondition(wakeFD >= 0, "eventfd failed")
        var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(fd: wakeFD))
        epoll_ctl(epfd, EPOLL_CTL_ADD, wakeFD, &event)
    }

    deinit {
        close(epfd)
        close(wakeFD)
    }

    // MARK: From other threads

    /// Queues a message for the loop and wakes it.
    func send(_ message: Message) {
        inbox.withLock { $0.append(message) }
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    /// Delivers a handler's response; inline when the handler answered before returning.
    func deliver(_ response: HTTPResponse, fd: Int32, connectionID: UInt64) {
        // Only the loop's own thread may look at `inlineConnection`; check the thread first.
        if pthread_equal(pthread_self(), thread) != 0, let inline = inlineConnection, inline.id == connectionID {
            inlineResponse = response
            return
        }
        send(.response(fd: fd, connectionID: connectionID, response))
    }

    private var thread = pthread_t()

    /// Traps in debug builds when called off the loop's thread: everything but `inbox` belongs to it.
    @inline(__always)
    private func assertOnLoop(_ function: StaticString = #function) {
        assert(pthread_equal(pthread_self(), thread) != 0, "\(function) called off the event loop's thread")
    }

    // MARK: The loop

    /// Runs until shutdown completes. Call on the loop's own thread.
    func run() {
        thread = pthread_self()
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        while !stopped {
            let n = epoll_wait(epfd, &events, Int32(events.count), 250)
            if n < 0 && errno != EINTR {
                logger.error("epoll_wait failed", metadata: ["errno": "\(errno)"])
            }
            if n > 0 {
                for i in 0..<Int(n) {
                    let fd = events[i].data.fd
                    let flags = events[i].events
                    if fd == wakeFD {
                        var value: UInt64 = 0
                        _ = read(wakeFD, &value, 8)
                        drainInbox()
                    } else if let connection = connections[fd] {
                        handleEvent(connection, flags: flags)
                    }
                }
            }
            let now = Deadline.now()
            if nextSweep.hasPassed(now: now) {
                nextSweep = now + .milliseconds(250)
                sweep(now: now)
            }
            if draining && (connections.isEmpty || drainDeadline.hasPassed(now: now)) {
                for connection in Array(connections.values) { closeConnection(connection, reason: "shutdown") }
                stopped = true
            }
        }
    }

    private func drainInbox() {
        assertOnLoop()
        let messages = inbox.withLock { box -> [Message] in
            let m = box
            box.removeAll(keepingCapacity: true)
            return m
        }
        for message in messages {
            switch message {
            case .adopt(let fd, let remote):
                adopt(fd: fd, remote: remote)
            case .response(let fd, let id, let response):
                guard let connection = connections[fd], connection.id == id else { continue }
                if let action = connection.machine.respond(response, serverDraining: draining, now: Deadline.now()) {
                    perform(action, on: connection)
                }
            case .streamHead(let fd, let id, let response):
                guard let connection = connections[fd], connection.id == id else { continue }
                if let action = connection.machine.respondStreaming(response, serverDraining: draining, now: Deadline.now()) {
                    perform(action, on: connection)
                }
            case .streamPart(let fd, let id, let part):
                guard let connection = connections[fd], connection.id == id else { continue }
                if let action = connection.machine.streamPart(part, now: Deadline.now()) {
                    perform(action, on: connection)
                }
            case .beginShutdown(let deadline):
                draining = true
                drainDeadline = deadline
                for connection in Array(connections.values) where connection.machine.closesAtShutdown {
                    closeConnection(connection, reason: "shutdown")
                }
            }
        }
    }

    // MARK: Connections

    private func adopt(fd: Int32, remote: String) {
        assertOnLoop()
        if draining {
            close(fd)
            return
        }
        guard let tls = TLSStream(context: contexts.current, fd: fd) else {
            logger.error("cannot create a TLS session", metadata: ["errors": "\(TLSError.drainErrorQueue())"])
            close(fd)
            return
        }
        tls.setAcceptState()
        let machine = HTTPConnectionStateMachine(
            limits: limits, remoteAddress: remote, budget: budget, observer: observer, logger: logger,
            handshakeDeadline: Deadline.now() + configuration.handshakeTimeout)
        let connection = Connection(fd: fd, id: nextConnectionID, tls: tls, remoteAddress: remote, machine: machine)
        nextConnectionID &+= 1
        connections[fd] = connection
        observer.connectionsChanged(by: 1)
        var event = epoll_event(events: EPOLLIN.rawValue | EPOLLRDHUP.rawValue, data: epoll_data_t(fd: fd))
        connection.interest = event.events
        if epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event) != 0 {
            logger.error("epoll_ctl ADD failed", metadata: ["errno": "\(errno)"])
            closeConnection(connection, reason: "epoll")
            return
        }
        perform(.handshake, on: connection)
    }

    private func handleEvent(_ connection: Connection, flags: UInt32) {
        assertOnLoop()
        let hungUp = flags & (EPOLLERR.rawValue | EPOLLHUP.rawValue | EPOLLRDHUP.rawValue) != 0
        perform(connection.machine.socketReady(hungUp: hungUp), on: connection)
    }

    /// Performs what the connection's state machine asks for, and what it asks for next, until it waits
    /// for the socket or the connection is closed.
    private func perform(_ first: HTTPConnectionStateMachine.Action, on connection: Connection) {
        assertOnLoop()
        var action = first
        // The last read found no whole record: what OpenSSL holds is part of one, and only the socket
        // can bring the rest.
        var readBlocked = false
        while true {
            switch action {
            case .handshake:
                action = advanceHandshake(connection)
            case .read:
                action = readSocket(connection, blocked: &readBlocked)
            case .write:
                action = writeSocket(connection)
            case .dispatch(let request):
                guard let next = dispatch(request, on: connection) else { return }
                action = next
            case .wait(let interest):
                // OpenSSL may hold bytes epoll cannot see (the rest of a record a body ended in, or a
                // pipelined request's record read ahead with the previous one): read those before waiting.
                if interest == .readable, !readBlocked, connection.machine.state == .reading,
                    connection.tls.hasBufferedInput
                {
                    action = .read
                    continue
                }
                setInterest(connection, interest)
                return
            case .close(let reason):
                closeConnection(connection, reason: reason)
                return
            }
        }
    }

    private func setInterest(_ connection: Connection, _ interest: HTTPConnectionStateMachine.Interest) {
        let events: UInt32
        switch interest {
        case .readable: events = EPOLLIN.rawValue
        case .writable: events = EPOLLOUT.rawValue
        case .hangUpOnly: events = 0
        }
        let wanted = events | EPOLLRDHUP.rawValue
        guard connection.interest != wanted else { return }
        connection.interest = wanted
        var event = epoll_event(events: wanted, data: epoll_data_t(fd: connection.fd))
        epoll_ctl(epfd, EPOLL_CTL_MOD, connection.fd, &event)
    }

    private func advanceHandshake(_ connection: Connection) -> HTTPConnectionStateMachine.Action {
        switch connection.tls.handshake() {
        case .done:
            return connection.machine.handshakeCompleted(
                clientCertificateVerified: connection.tls.peerCertificateVerified, now: Deadline.now())
        case .wantRead:
            return .wait(.readable)
        case .wantWrite:
            return .wait(.writable)
        case .closed:
            return .close(reason: "peer closed during handshake")
        case .failed(let reason):
            observer.handshakeFailed(reason: reason)
            logger.debug("TLS handshake failed", metadata: ["peer": "\(connection.remoteAddress)", "reason": "\(reason)"])
            return .close(reason: "handshake failed")
        }
    }

    /// Reads until the machine has a request (or a refusal) or the socket would block. OpenSSL decrypts
    /// straight into the machine's receive buffer, which becomes the request's body: no copy in between.
    /// `blocked` tells whether it stopped because OpenSSL needs more from the socket.
    private func readSocket(_ connection: Connection, blocked: inout Bool) -> HTTPConnectionStateMachine.Action {
        let tls = connection.tls
        blocked = false
        while true {
            switch connection.machine.withReadSpace({ tls.read(into: $0) }) {
            case .done(let n):
                let next = connection.machine.received(count: n, now: Deadline.now())
                if case .read = next { continue }
                return next
            case .wantRead:
                blocked = true
                return connection.machine.readWouldBlock()
            case .wantWrite:
                return .wait(.writable)
            case .closed:
                return .close(reason: "peer closed")
            case .failed(let reason):
                logger.debug("TLS read failed", metadata: ["peer": "\(connection.remoteAddress)", "reason": "\(reason)"])
                return .close(reason: "read failed")
            }
        }
    }

    /// Writes the machine's pending output until it is all out or the socket would block.
    private func writeSocket(_ connection: Connection) -> HTTPConnectionStateMachine.Action {
        while true {
            guard connection.machine.hasPendingOutput else {
                return connection.machine.wrote(0, now: Deadline.now())
            }
            let outcome = connection.machine.withPendingOutput { connection.tls.write($0) }
            switch outcome {
            case .done(let n):
                let next = connection.machine.wrote(n, now: Deadline.now())
                if case .write = next { continue }
                return next
            case .wantWrite:
                return connection.machine.writeBlocked(now: Deadline.now())
            case .wantRead:
                // TLS wants the peer's bytes first (a key update); the next readiness resumes the write.
                return .wait(.readable)
            case .closed, .failed:
                return .close(reason: "write failed")
            }
        }
    }

    /// Calls the handler. Returns what to do with its answer when it answered before returning, or waits
    /// (only a hang-up wakes the loop) until the answer comes from another thread. Nil when nothing is
    /// left to do.
    private func dispatch(_ request: HTTPRequest, on connection: Connection) -> HTTPConnectionStateMachine.Action? {
        inlineConnection = connection
        handler.handle(request, responder: HTTPResponder(loop: self, connectionID: connection.id, fd: connection.fd))
        inlineConnection = nil
        guard let response = inlineResponse else { return .wait(.hangUpOnly) }
        inlineResponse = nil
        return connection.machine.respond(response, serverDraining: draining, now: Deadline.now())
    }

    /// Gives each connection whose phase ran out of time what its machine asks for.
    private func sweep(now: Deadline) {
        for connection in Array(connections.values) {
            if let action = connection.machine.timedOut(now: now) { perform(action, on: connection) }
        }
    }

    private func closeConnection(_ connection: Connection, reason: String) {
        assertOnLoop()
        guard connections.removeValue(forKey: connection.fd) != nil else { return }
        let handshakeDone = connection.machine.state != .handshaking
        connection.machine.closed()
        epoll_ctl(epfd, EPOLL_CTL_DEL, connection.fd, nil)
        if handshakeDone { connection.tls.shutdown() }
        close(connection.fd)
        observer.connectionsChanged(by: -1)
        logger.trace("connection closed", metadata: ["peer": "\(connection.remoteAddress)", "reason": "\(reason)"])
    }
}
