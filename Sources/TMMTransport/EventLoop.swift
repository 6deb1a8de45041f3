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
        contexts: TLSContextSource, logger: Logger
    ) {
        self.index = index
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
        switch connection.state {
        case .handshaking:
            if flags & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 && flags & EPOLLIN.rawValue == 0 {
                closeConnection(connection, reason: "peer closed during handshake")
                return
            }
            advanceHandshake(connection)
        case .reading:
            if connection.output.count > connection.outputStart && flags & EPOLLOUT.rawValue != 0 {
                flush(connection)
                if connections[connection.fd] !== connection { return }
            }
            readAvailable(connection)
        case .writing:
            flush(connection)
        case .streaming:
            if flags & (EPOLLERR.rawValue | EPOLLHUP.rawValue | EPOLLRDHUP.rawValue) != 0 {
                // The reader went away: nobody will read the rest of the stream.
                closeConnection(connection, reason: "peer closed during a streamed response")
                return
            }
            if connection.output.count > connection.outputStart { flush(connection) }
        case .processing:
            // The peer hung up while its request is being decided; the answer will find the socket closed.
            // Stop listening so a half-closed socket does not wake the loop in a spin.
            setInterest(connection, 0)
        }
    }

    private func advanceHandshake(_ connection: Connection) {
        switch connection.tls.handshake() {
        case .done:
            connection.state = .reading
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
        let limit = configuration.maxHeaderBytes + configuration.maxBodyBytes + 4
        while true {
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
                // A whole request is here and OpenSSL holds nothing more: handle it now rather than pay a
                // read(2) that would only say EAGAIN. Anything later still wakes epoll (level-triggered).
                if connection.tls.pending == 0 && hasCompleteRequest(connection) { break }
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

    /// True when the buffer holds a whole request: its head, and the body its Content-Length announces.
    private func hasCompleteRequest(_ connection: Connection) -> Bool {
        if let head = connection.head { return connection.unreadCount >= head.contentLength }
        return connection.input.withUnsafeBytes { all -> Bool in
            let unread = UnsafeRawBufferPointer(rebasing: all[connection.inputStart...])
            guard let headLength = findHeadEnd(unread) else { return false }
            // Content-Length is not parsed yet: look for it cheaply in the head (case-insensitive).
            guard let length = contentLength(in: UnsafeRawBufferPointer(rebasing: unread[0..<headLength])) else { return true }
            return unread.count >= headLength + 4 + length
        }
    }

    /// Parses as much of the buffered input as forms a request and dispatches it.
    private func processInput(_ connection: Connection) {
        guard connection.state == .reading else { return }
        if connection.head == nil {
            let found: Int? = connection.input.withUnsafeBytes { all in
                findHeadEnd(UnsafeRawBufferPointer(rebasing: all[connection.inputStart...]))
            }
            guard let headLength = found else {
                if connection.unreadCount > configuration.maxHeaderBytes {
                    reject(connection, status: 431, message: "request line and headers exceed \(configuration.maxHeaderBytes) bytes")
                }
                return
            }
            if headLength > configuration.maxHeaderBytes {
                reject(connection, status: 431, message: "request line and headers exceed \(configuration.maxHeaderBytes) bytes")
                return
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
            switch parsed {
            case .failure(let rejection):
                reject(connection, status: rejection.status, message: rejection.message)
                return
            case .success(let head):
                if head.contentLength > configuration.maxBodyBytes {
                    reject(connection, status: 413, message: "request body of \(head.contentLength) bytes exceeds the limit of \(configuration.maxBodyBytes)")
                    return
                }
                connection.head = head
                connection.deadline = MonotonicClock.now() &+ configuration.bodyTimeout.nanoseconds
                if head.expectContinue && connection.unreadCount < head.contentLength && !connection.sentContinue {
                    connection.sentContinue = true
                    connection.output.append(contentsOf: "HTTP/1.1 100 Continue\r\n\r\n".utf8)
                    connection.writingFinalResponse = false
                    flush(connection)
                    if connections[connection.fd] !== connection { return }
                }
            }
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
            remoteAddress: connection.remoteAddress, receivedAt: MonotonicClock.now())
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
            setInterest(connection, 0)
        }
    }

    /// Answers a request the server refuses itself, then closes: after a framing error, the rest of the
    /// stream cannot be trusted.
    private func reject(_ connection: Connection, status: Int, message: String) {
        logger.debug("request rejected", metadata: ["peer": "\(connection.remoteAddress)", "status": "\(status)", "reason": "\(message)"])
        connection.requestPath = connection.head.map { HTTPRequest(method: $0.method, target: $0.target).path } ?? ""
        connection.requestMethod = connection.head.map { $0.method[...] } ?? ""
        if connection.requestStartedAt == 0 { connection.requestStartedAt = MonotonicClock.now() }
        connection.state = .processing
        send(.error(status, message, closeConnection: true), on: connection)
    }

    private func send(_ response: HTTPResponse, on connection: Connection) {
        if connection.handlerActive {
            connection.handlerActive = false
            observer.requestFinished(path: connection.requestPath)
        }
        let keepAlive = (connection.head?.keepAlive ?? false) && !response.closeConnection && !draining
        connection.closeAfterWrite = !keepAlive
        response.serialize(keepAlive: keepAlive, into: &connection.output)
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
        guard connections.removeValue(forKey: connection.fd) != nil else { return }
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

/// The value of a `Content-Length` header in a raw head, if one is there and well-formed.
func contentLength(in head: UnsafeRawBufferPointer) -> Int? {
    let name = Array("content-length:".utf8)
    var i = 0
    let n = head.count
    while i < n {
        // At the start of a line.
        if n - i > name.count {
            var matches = true
            // `name` is lowercase; its ':' and '-' already have bit 0x20 set, so OR-ing it in folds case.
            for k in 0..<name.count where head[i + k] | 0x20 != name[k] {
                matches = false
                break
            }
            if matches {
                var j = i + name.count
                while j < n, head[j] == 0x20 || head[j] == 0x09 { j += 1 }
                var value = 0
                var digits = 0
                while j < n, isDigit(head[j]), digits < 16 {
                    value = value * 10 + Int(head[j] - UInt8(ascii: "0"))
                    digits += 1
                    j += 1
                }
                return digits > 0 ? value : nil
            }
        }
        while i < n, head[i] != 0x0A { i += 1 }
        i += 1
    }
    return nil
}

/// Length of the head (up to, not including, the blank line), or nil if the blank line has not arrived.
func findHeadEnd(_ bytes: UnsafeRawBufferPointer) -> Int? {
    let n = bytes.count
    guard n >= 4 else { return nil }
    var i = 0
    while i <= n - 4 {
        if bytes[i + 3] != 0x0A {
            // Skip ahead: the blank line ends with "\n" at i+3.
            i += 1
            continue
        }
        if bytes[i] == 0x0D, bytes[i + 1] == 0x0A, bytes[i + 2] == 0x0D { return i }
        i += 1
    }
    return nil
}
