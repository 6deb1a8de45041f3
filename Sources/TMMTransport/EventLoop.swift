import CLinux
import Glibc
import Logging
import Synchronization

/// An epoll loop on its own thread, serving many connections: TLS handshakes, request parsing, response
/// writing. No call on it blocks; a slow or silent peer only costs a timer check.
///
/// Everything but `inbox` is confined to the loop's thread; `inbox` is behind a `Mutex`, which is what
/// makes the `@unchecked Sendable` safe.
final class EventLoop: @unchecked Sendable {
    enum Message {
        case adopt(fd: Int32, remote: String)
        case response(fd: Int32, connectionID: UInt64, HTTPResponse)
        case beginShutdown(deadline: UInt64)
        case streamHead(fd: Int32, connectionID: UInt64, HTTPResponse)
        case streamPart(fd: Int32, connectionID: UInt64, StreamPart)
    }

    enum StreamPart {
        case chunk([UInt8])
        case finish
        case abort
    }

    private let epfd: Int32
    private let wakeFD: Int32
    private let inbox = Mutex<[Message]>([])
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

    /// Set while a handler runs on this thread, so an immediate `respond` is taken inline.
    private var inlineConnection: Connection?
    private var inlineResponse: HTTPResponse?
    private var draining = false
    private var drainDeadline: UInt64 = 0
    private var stopped = false
    private var lastSweep: UInt64 = 0
    /// Where TLS reads land before they are appended to a connection's buffer (one TLS record at most).
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 32 * 1024, alignment: 16)

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
        epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
        precondition(epfd >= 0, "epoll_create1 failed: \(String(cString: strerror(errno)))")
        wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        precondition(wakeFD >= 0, "eventfd failed")
        var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(fd: wakeFD))
        epoll_ctl(epfd, EPOLL_CTL_ADD, wakeFD, &event)
    }

    deinit {
        scratch.deallocate()
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
            let now = MonotonicClock.now()
            if now &- lastSweep >= 250_000_000 {
                lastSweep = now
                sweep(now: now)
            }
            if draining && (connections.isEmpty || now >= drainDeadline) {
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
                if let connection = connections[fd], connection.id == id, connection.state == .processing {
                    send(response, on: connection)
                }
            case .streamHead(let fd, let id, let response):
                if let connection = connections[fd], connection.id == id, connection.state == .processing {
                    sendStreamHead(response, on: connection)
                }
            case .streamPart(let fd, let id, let part):
                if let connection = connections[fd], connection.id == id, connection.state == .streaming {
                    sendStreamPart(part, on: connection)
                }
            case .beginShutdown(let deadline):
                draining = true
                drainDeadline = deadline
                for connection in Array(connections.values)
                where connection.isIdle || connection.state == .handshaking {
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
        let connection = Connection(fd: fd, id: nextConnectionID, tls: tls, remoteAddress: remote)
        nextConnectionID &+= 1
        connections[fd] = connection
        observer.connectionsChanged(by: 1)
        connection.deadline = MonotonicClock.now() &+ configuration.handshakeTimeout.nanoseconds
        var event = epoll_event(events: EPOLLIN.rawValue | EPOLLRDHUP.rawValue, data: epoll_data_t(fd: fd))
        connection.interest = event.events
        if epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event) != 0 {
            logger.error("epoll_ctl ADD failed", metadata: ["errno": "\(errno)"])
            closeConnection(connection, reason: "epoll")
            return
        }
        advanceHandshake(connection)
    }

    private func setInterest(_ connection: Connection, _ events: UInt32) {
        let wanted = events | EPOLLRDHUP.rawValue
        guard connection.interest != wanted else { return }
        connection.interest = wanted
        var event = epoll_event(events: wanted, data: epoll_data_t(fd: connection.fd))
        epoll_ctl(epfd, EPOLL_CTL_MOD, connection.fd, &event)
    }

    private func handleEvent(_ connection: Connection, flags: UInt32) {
        assertOnLoop()
        // The peer hung up (or shut down its side): nothing it sends can still be answered usefully. epoll
        // reports a hang-up for as long as the socket is open (level-triggered), so close now in every
        // state; keeping it open until a timeout would wake the loop in a spin.
        let hungUp = flags & (EPOLLERR.rawValue | EPOLLHUP.rawValue | EPOLLRDHUP.rawValue) != 0
        switch connection.state {
        case .handshaking:
            if hungUp {
                closeConnection(connection, reason: "peer closed during handshake")
                return
            }
            advanceHandshake(connection)
        case .reading:
            if !hungUp, connection.output.count > connection.outputStart && flags & EPOLLOUT.rawValue != 0 {
                flush(connection)
                if connections[connection.fd] !== connection { return }
            }
            // Read what came before the hang-up; the read ends at the end of the stream and closes.
            readAvailable(connection)
            if hungUp, connections[connection.fd] === connection, connection.state == .reading {
                closeConnection(connection, reason: "peer closed")
            }
        case .writing:
            if hungUp {
                closeConnection(connection, reason: "peer closed during a response")
                return
            }
            flush(connection)
        case .streaming:
            if hungUp {
                // The reader went away: nobody will read the rest of the stream.
                closeConnection(connection, reason: "peer closed during a streamed response")
                return
            }
            if connection.output.count > connection.outputStart { flush(connection) }
        case .processing:
            // Only a hang-up is listened for while a request is decided; the answer will find no one.
            closeConnection(connection, reason: "peer closed while its request was processed")
        }
    }

    private func advanceHandshake(_ connection: Connection) {
        switch connection.tls.handshake() {
        case .done:
            connection.state = .reading
            connection.clientCertificateVerified = connection.tls.peerCertificateVerified
            connection.deadline = MonotonicClock.now() &+ configuration.idleTimeout.nanoseconds
            setInterest(connection, EPOLLIN.rawValue)
            readAvailable(connection)
        case .wantRead:
            setInterest(connection, EPOLLIN.rawValue)
        case .wantWrite:
            setInterest(connection, EPOLLOUT.rawValue)
        case .closed:
            closeConnection(connection, reason: "peer closed during handshake")
        case .failed(let reason):
            observer.handshakeFailed(reason: reason)
            logger.debug("TLS handshake failed", metadata: ["peer": "\(connection.remoteAddress)", "reason": "\(reason)"])
            closeConnection(connection, reason: "handshake failed")
        }
    }

    private func readAvailable(_ connection: Connection) {
        assertOnLoop()
        while true {
            // Before the head is known, read no more than a head may hold; after, the body and a next head.
            let limit = (connection.head?.contentLength ?? 0) + configuration.maxHeaderBytes + 4
            if connection.unreadCount > limit { break }
            let wasEmpty = connection.unreadCount == 0 && connection.head == nil
            // Read into the loop's scratch buffer, then append what arrived: one copy of the bytes read,
            // no zero-filling. Once the head is known, the buffer is sized for the whole body at once.
            if let head = connection.head, connection.input.capacity < connection.inputStart + head.contentLength {
                connection.input.reserveCapacity(connection.inputStart + head.contentLength)
            }
            let outcome = connection.tls.read(into: scratch)
            if case .done(let n) = outcome {
                connection.input.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[0..<n]))
            }
            switch outcome {
            case .done:
                if wasEmpty {
                    connection.requestStartedAt = MonotonicClock.now()
                    connection.deadline = connection.requestStartedAt &+ configuration.headerTimeout.nanoseconds
                }
                // The head is parsed as soon as it is here, so a body is admitted (or refused) before it is
                // read, and the search for the head's end goes on where it stopped.
                if connection.head == nil {
                    guard parseHead(connection) else { return }
                }
                // A whole request is here and OpenSSL holds nothing more: handle it now rather than pay a
                // read(2) that would only say EAGAIN. Anything later still wakes epoll (level-triggered).
                if connection.tls.pending == 0, let head = connection.head, connection.unreadCount >= head.contentLength {
                    break
                }
                continue
            case .wantRead:
                break
            case .wantWrite:
                setInterest(connection, EPOLLOUT.rawValue)
            case .closed:
                closeConnection(connection, reason: "peer closed")
                return
            case .failed(let reason):
                logger.debug("TLS read failed", metadata: ["peer": "\(connection.remoteAddress)", "reason": "\(reason)"])
                closeConnection(connection, reason: "read failed")
                return
            }
            break
        }
        processInput(connection)
    }

    /// Parses the head of the next request once its end has arrived, and admits its body against the
    /// limits. False when the connection was answered (refused) or closed instead.
    private func parseHead(_ connection: Connection) -> Bool {
        guard connection.state == .reading, connection.head == nil else { return connection.state == .reading }
        let found: Int? = connection.input.withUnsafeBytes { all in
            connection.headFinder.find(in: UnsafeRawBufferPointer(rebasing: all[connection.inputStart...]))
        }
        guard let headLength = found else {
            if connection.unreadCount > configuration.maxHeaderBytes + 3 {
                reject(connection, status: 431, message: "request line and headers exceed \(configuration.maxHeaderBytes) bytes")
                return false
            }
            return true
        }
        if headLength > configuration.maxHeaderBytes {
            reject(connection, status: 431, message: "request line and headers exceed \(configuration.maxHeaderBytes) bytes")
            return false
        }
        let parsed: Result<HTTPHead, HTTPHead.Rejection> = connection.input.withUnsafeBytes { all in
            let headBytes = UnsafeRawBufferPointer(rebasing: all[connection.inputStart..<(connection.inputStart + headLength)])
            do throws(HTTPHead.Rejection) {
                return .success(try HTTPHead.parse(headBytes))
            } catch {
                return .failure(error)
            }
        }
        connection.inputStart += headLength + 4
        connection.headFinder.reset()
        switch parsed {
        case .failure(let rejection):
            reject(connection, status: rejection.status, message: rejection.message)
            return false
        case .success(let head):
            connection.requestMethod = head.method[...]
            if head.contentLength > configuration.maxBodyBytes {
                reject(connection, status: 413, message: "request body of \(head.contentLength) bytes exceeds the limit of \(configuration.maxBodyBytes)")
                return false
            }
            if head.contentLength > 0 {
                guard budget.reserve(head.contentLength) else {
                    observer.bodyRefused(bytes: head.contentLength)
                    connection.head = head
                    reject(
                        connection, status: 503,
                        message: "the server holds too many request bodies; retry shortly",
                        headers: [("Retry-After", "1")])
                    return false
                }
                connection.budgetHeld = head.contentLength
            }
            connection.head = head
            connection.deadline = MonotonicClock.now() &+ configuration.bodyTimeout.nanoseconds
            if head.expectContinue && connection.unreadCount < head.contentLength && !connection.sentContinue {
                connection.sentContinue = true
                connection.output.append(contentsOf: "HTTP/1.1 100 Continue\r\n\r\n".utf8)
                connection.writingFinalResponse = false
                flush(connection)
                if connections[connection.fd] !== connection { return false }
            }
            return true
        }
    }

    /// Dispatches the buffered request once its head and whole body are here.
    private func processInput(_ connection: Connection) {
        assertOnLoop()
        guard connection.state == .reading else { return }
        if connection.head == nil {
            guard parseHead(connection) else { return }
        }
        guard let head = connection.head, connection.unreadCount >= head.contentLength else { return }
        let bodyStart = connection.inputStart
        let body = connection.input[bodyStart..<(bodyStart + head.contentLength)]
        connection.inputStart += head.contentLength
        if connection.inputStart == connection.input.count {
            // The common case: the buffer holds exactly this request. Hand its storage to the request
            // and start a new buffer, rather than copying the body out.
            connection.input = []
            connection.inputStart = 0
        } else {
            connection.compactInput()
        }
        let request = HTTPRequest(
            method: head.method, target: head.target, headers: head.headers, body: body,
            remoteAddress: connection.remoteAddress, receivedAt: MonotonicClock.now(),
            clientCertificateVerified: connection.clientCertificateVerified)
        connection.requestPath = request.path
        connection.requestMethod = request.method[...]
        connection.state = .processing
        connection.handlerActive = true
        observer.requestStarted(path: connection.requestPath)
        inlineConnection = connection
        handler.handle(request, responder: HTTPResponder(loop: self, connectionID: connection.id, fd: connection.fd))
        inlineConnection = nil
        if let response = inlineResponse {
            inlineResponse = nil
            send(response, on: connection)
        } else {
            // Answered later from another thread: stop reading until then (no pipelining past a request).
            // Only a hang-up still wakes the loop, and closes the connection.
            setInterest(connection, 0)
        }
    }

    /// Answers a request the server refuses itself, then closes: after a framing error, the rest of the
    /// stream cannot be trusted.
    private func reject(
        _ connection: Connection, status: Int, message: String, headers: [(name: String, value: String)] = []
    ) {
        logger.debug("request rejected", metadata: ["peer": "\(connection.remoteAddress)", "status": "\(status)", "reason": "\(message)"])
        connection.requestPath = connection.head.map { HTTPRequest(method: $0.method, target: $0.target).path } ?? ""
        connection.requestMethod = connection.head.map { $0.method[...] } ?? ""
        if connection.requestStartedAt == 0 { connection.requestStartedAt = MonotonicClock.now() }
        connection.state = .processing
        var response = HTTPResponse.error(status, message, closeConnection: true)
        response.headers += headers
        send(response, on: connection)
    }

    /// Gives back the budget held for the connection's request body: the handler has answered (or the
    /// connection is gone), so the body is no longer the server's to keep.
    private func releaseBudget(_ connection: Connection) {
        guard connection.budgetHeld > 0 else { return }
        budget.release(connection.budgetHeld)
        connection.budgetHeld = 0
    }

    private func send(_ response: HTTPResponse, on connection: Connection) {
        assertOnLoop()
        if connection.handlerActive {
            connection.handlerActive = false
            observer.requestFinished(path: connection.requestPath)
        }
        releaseBudget(connection)
        let keepAlive = (connection.head?.keepAlive ?? false) && !response.closeConnection && !draining
        connection.closeAfterWrite = !keepAlive
        // A response to HEAD has the headers GET would have (its Content-Length too) and no body.
        response.serialize(keepAlive: keepAlive, includeBody: connection.requestMethod != "HEAD", into: &connection.output)
        observer.responded(
            path: connection.requestPath, method: connection.requestMethod, status: response.status,
            durationNanoseconds: MonotonicClock.now() &- connection.requestStartedAt)
        connection.state = .writing
        connection.writingFinalResponse = true
        connection.deadline = MonotonicClock.now() &+ configuration.writeTimeout.nanoseconds
        flush(connection)
    }

    /// Writes a streamed response's head (chunked framing); its parts follow through `sendStreamPart`.
    private func sendStreamHead(_ response: HTTPResponse, on connection: Connection) {
        let keepAlive = (connection.head?.keepAlive ?? false) && !response.closeConnection && !draining
        connection.closeAfterWrite = !keepAlive
        response.serializeStreamingHead(keepAlive: keepAlive, into: &connection.output)
        if !response.body.isEmpty { HTTPResponse.appendChunk(response.body, to: &connection.output) }
        observer.responded(
            path: connection.requestPath, method: connection.requestMethod, status: response.status,
            durationNanoseconds: MonotonicClock.now() &- connection.requestStartedAt)
        connection.state = .streaming
        connection.writingFinalResponse = false
        flush(connection)
    }

    private func sendStreamPart(_ part: StreamPart, on connection: Connection) {
        switch part {
        case .chunk(let bytes):
            HTTPResponse.appendChunk(bytes, to: &connection.output)
            flush(connection)
        case .finish:
            connection.output.append(contentsOf: "0\r\n\r\n".utf8)
            connection.state = .writing
            connection.writingFinalResponse = true
            connection.deadline = MonotonicClock.now() &+ configuration.writeTimeout.nanoseconds
            flush(connection)
        case .abort:
            closeConnection(connection, reason: "streamed response aborted")
        }
    }

    private func flush(_ connection: Connection) {
        assertOnLoop()
        while connection.outputStart < connection.output.count {
            let outcome = connection.output.withUnsafeBytes { all in
                connection.tls.write(UnsafeRawBufferPointer(rebasing: all[connection.outputStart...]))
            }
            switch outcome {
            case .done(let n):
                connection.outputStart += n
            case .wantWrite:
                if connection.state == .streaming {
                    connection.deadline = MonotonicClock.now() &+ configuration.writeTimeout.nanoseconds
                }
                setInterest(connection, EPOLLOUT.rawValue)
                return
            case .wantRead:
                setInterest(connection, EPOLLIN.rawValue)
                return
            case .closed, .failed:
                closeConnection(connection, reason: "write failed")
                return
            }
        }
        if connection.output.capacity > 256 * 1024 { connection.output = [] } else { connection.output.removeAll(keepingCapacity: true) }
        connection.outputStart = 0
        if connection.state == .streaming {
            // Everything written so far is out: wait for the next part (only a hang-up wakes us).
            connection.deadline = 0
            setInterest(connection, 0)
            return
        }
        guard connection.writingFinalResponse else {
            // Only an interim `100 Continue` was written; keep reading the body.
            setInterest(connection, EPOLLIN.rawValue)
            return
        }
        connection.writingFinalResponse = false
        if connection.closeAfterWrite {
            closeConnection(connection, reason: "response complete")
            return
        }
        connection.head = nil
        connection.sentContinue = false
        connection.state = .reading
        connection.requestStartedAt = 0
        connection.compactInput()
        if connection.unreadCount > 0 {
            connection.requestStartedAt = MonotonicClock.now()
            connection.deadline = connection.requestStartedAt &+ configuration.headerTimeout.nanoseconds
        } else {
            connection.deadline = MonotonicClock.now() &+ configuration.idleTimeout.nanoseconds
        }
        setInterest(connection, EPOLLIN.rawValue)
        // A pipelined request may already be buffered, in OpenSSL or in `input`.
        if connection.tls.pending > 0 {
            readAvailable(connection)
        } else {
            processInput(connection)
        }
    }

    /// Closes connections whose phase has run out of time.
    private func sweep(now: UInt64) {
        for connection in Array(connections.values) where connection.deadline != 0 && now >= connection.deadline {
            switch connection.state {
            case .handshaking:
                closeConnection(connection, reason: "handshake timeout")
            case .reading:
                if connection.isIdle {
                    closeConnection(connection, reason: "idle timeout")
                } else {
                    reject(connection, status: 408, message: "the request was not received in time")
                }
            case .writing, .streaming:
                closeConnection(connection, reason: "write timeout")
            case .processing:
                break  // The handler bounds its own work by the request's deadline.
            }
        }
    }

    private func closeConnection(_ connection: Connection, reason: String) {
        assertOnLoop()
        guard connections.removeValue(forKey: connection.fd) != nil else { return }
        releaseBudget(connection)
        if connection.handlerActive {
            // Closed (shutdown past its grace period) while a handler still had the request.
            connection.handlerActive = false
            observer.requestFinished(path: connection.requestPath)
        }
        epoll_ctl(epfd, EPOLL_CTL_DEL, connection.fd, nil)
        if connection.state != .handshaking { connection.tls.shutdown() }
        close(connection.fd)
        observer.connectionsChanged(by: -1)
        logger.trace("connection closed", metadata: ["peer": "\(connection.remoteAddress)", "reason": "\(reason)"])
    }
}
