import Logging
import TMMBase

/// The HTTP/1.1 protocol of one server connection, without sockets, TLS or threads: it is told what
/// happened (bytes arrived, bytes were written, the handler answered, the peer hung up, time passed) and
/// answers with the one thing the I/O loop should do next. `EventLoop` performs the actions; tests drive
/// the machine directly, transition by transition.
///
/// One request at a time: while a handler holds a request nothing more is read, and a pipelined request
/// that is already buffered is taken once the response is written.
struct HTTPConnectionStateMachine {
    enum State: Equatable {
        /// TLS handshake in progress (driven by the loop; the machine only waits for its end).
        case handshaking
        /// Reading a request, or idle between requests.
        case reading
        /// A handler has the request; nothing is read until it answers.
        case processing
        /// Writing a response, or an interim `100 Continue`.
        case writing
        /// Writing a streamed (chunked) response whose parts come from the handler over time.
        case streaming
        case closed
    }

    /// What the loop should do next.
    enum Action {
        /// Advance the TLS handshake; report its end with `handshakeCompleted`.
        case handshake
        /// Read from the socket into `withReadSpace`'s room, reporting each read with
        /// `received(count:now:)`, until it would block (`readWouldBlock`).
        case read
        /// Write `withPendingOutput`'s bytes; report with `wrote(_:now:)` or `writeBlocked(now:)`.
        case write
        /// Hand the request to the handler; its answer comes back through `respond`.
        case dispatch(HTTPRequest)
        /// Wait until the socket is ready (a hang-up is always reported).
        case wait(Interest)
        /// Close the connection (the loop then calls `closed()`).
        case close(reason: String)
    }

    /// A part of a streamed response, from `HTTPResponseStream`.
    enum StreamPart {
        case chunk([UInt8])
        case finish
        case abort
    }

    /// What the loop should wait for.
    enum Interest: Equatable {
        case readable
        case writable
        /// Only a hang-up: nothing is to be read or written now.
        case hangUpOnly
    }

    /// The limits and timeouts of `HTTPServerConfiguration`, in the units the machine counts in.
    struct Limits {
        var maxHeaderBytes: Int
        var maxBodyBytes: Int
        var headerTimeout: Duration
        var bodyTimeout: Duration
        var idleTimeout: Duration
        var writeTimeout: Duration

        init(_ configuration: HTTPServerConfiguration) {
            maxHeaderBytes = configuration.maxHeaderBytes
            maxBodyBytes = configuration.maxBodyBytes
            headerTimeout = configuration.headerTimeout
            bodyTimeout = configuration.bodyTimeout
            idleTimeout = configuration.idleTimeout
            writeTimeout = configuration.writeTimeout
        }
    }

    private(set) var state: State = .handshaking
    /// When the current phase times out (`distantFuture`: never).
    private(set) var deadline: Deadline
    /// The client presented a certificate that verified (known once the handshake completes).
    private(set) var clientCertificateVerified = false

    private let limits: Limits
    private let remoteAddress: String
    private let budget: RequestBodyBudget
    private let observer: any HTTPServerObserver
    private let logger: Logger

    /// The receive buffer: `input[inputStart..<inputEnd]` is received and unread, `input[inputEnd...]` is
    /// room for the next read. Reads land here directly and a request's body is a slice of it, so a body
    /// is never copied; the storage goes with the request, and the next read starts a new buffer.
    private var input: [UInt8] = []
    private var inputStart = 0
    private var inputEnd = 0
    /// The head of the request being read, once complete.
    private var head: HTTPHead?
    /// Where the search for the end of the next head stands.
    private var headFinder = HTTPHeadFinder()
    /// Bytes of the server's request-body budget held for the current request.
    private var budgetHeld = 0
    /// Bytes to write; `outputStart` is how much is already written.
    private var output: [UInt8] = []
    private var outputStart = 0
    /// True while `output` holds a final response (not just `100 Continue`).
    private var writingFinalResponse = false
    private var closeAfterWrite = false
    /// True between `requestStarted` and the handler's answer (for the in-flight gauge).
    private var handlerActive = false
    private var sentContinue = false
    /// The peer shut down its side: once what it sent is read, the connection is closed.
    private var peerHungUp = false
    /// When the current request's first byte arrived (nil: none yet).
    private var requestStartedAt: Deadline?
    private var requestPath: Substring = ""
    private var requestMethod: Substring = ""

    init(
        limits: Limits, remoteAddress: String, budget: RequestBodyBudget, observer: any HTTPServerObserver,
        logger: Logger, handshakeDeadline: Deadline
    ) {
        self.limits = limits
        self.remoteAddress = remoteAddress
        self.budget = budget
        self.observer = observer
        self.logger = logger
        self.deadline = handshakeDeadline
    }

    // MARK: Queries

    private var unreadCount: Int { inputEnd - inputStart }

    /// A new receive buffer's size: a TLS record (16 KiB) with room to spare, and a typical admission
    /// review (10 to 30 KB) with its head, so most requests need no second buffer.
    static let receiveBufferSize = 32 * 1024

    /// The least room a read is given while the head is incomplete (a smaller gap is grown first).
    static let minimumReadRoom = 4 * 1024

    /// Nothing of a next request has arrived: closing loses no work.
    var isIdle: Bool { state == .reading && head == nil && unreadCount == 0 && outputStart == output.count }

    /// A server shutting down closes these at once; the others get the grace period.
    var closesAtShutdown: Bool { isIdle || state == .handshaking }

    var hasPendingOutput: Bool { outputStart < output.count }

    /// Calls `body` with the bytes still to write.
    func withPendingOutput<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        output.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[outputStart...])) }
    }

    // MARK: Events from the socket

    /// The TLS handshake finished: start reading the first request.
    mutating func handshakeCompleted(clientCertificateVerified: Bool, now: Deadline) -> Action {
        assert(state == .handshaking)
        state = .reading
        self.clientCertificateVerified = clientCertificateVerified
        deadline = now + limits.idleTimeout
        return .read
    }

    /// The socket reported readiness (or a hang-up) while the loop was waiting.
    mutating func socketReady(hungUp: Bool) -> Action {
        switch state {
        case .handshaking:
            return hungUp ? .close(reason: "peer closed during handshake") : .handshake
        case .reading:
            // Read what came before the hang-up; `readWouldBlock` then closes.
            if hungUp { peerHungUp = true }
            return .read
        case .processing:
            // Only a hang-up is listened for while a request is decided; the answer would find no one.
            return .close(reason: "peer closed while its request was processed")
        case .writing:
            // epoll reports a hang-up for as long as the socket is open (level-triggered): retrying the
            // write until the write timeout would spin the loop.
            return hungUp ? .close(reason: "peer closed during a response") : .write
        case .streaming:
            if hungUp { return .close(reason: "peer closed during a streamed response") }
            return hasPendingOutput ? .write : .wait(.hangUpOnly)
        case .closed:
            return .close(reason: "closed")
        }
    }

    /// Calls `read` with the room at the end of the receive buffer; report what it wrote there with
    /// `received(count:now:)`. While a body is read the room is exactly the rest of the body (bytes of a
    /// pipelined request wait in the TLS session until the response is out).
    mutating func withReadSpace<Result>(_ read: (UnsafeMutableRawBufferPointer) -> Result) -> Result {
        // With the head known the rest is all body (at least one byte: the machine asks to read only
        // while some is missing).
        let room = head.map { max($0.contentLength - unreadCount, 1) } ?? Self.minimumReadRoom
        if input.count - inputEnd < room { regrowInput(room: room) }
        let end = head == nil ? input.count : inputEnd + room
        return input.withUnsafeMutableBytes { read(UnsafeMutableRawBufferPointer(rebasing: $0[inputEnd..<end])) }
    }

    /// `count` bytes were read into `withReadSpace`'s room. `.read` asks for more.
    mutating func received(count: Int, now: Deadline) -> Action {
        assert(state == .reading)
        assert(count <= input.count - inputEnd)
        if unreadCount == 0 && head == nil {
            requestStartedAt = now
            deadline = now + limits.headerTimeout
        }
        inputEnd += count
        return advanceReading(now: now)
    }

    /// Bytes read from the peer into a buffer of the caller's: copies them in and goes on as
    /// `received(count:now:)` does (for tests and the fuzzer, which have their bytes at hand).
    mutating func received(_ bytes: UnsafeRawBufferPointer, now: Deadline) -> Action {
        assert(state == .reading)
        if input.count - inputEnd < bytes.count { regrowInput(room: bytes.count) }
        input.withUnsafeMutableBytes { UnsafeMutableRawBufferPointer(rebasing: $0[inputEnd...]).copyMemory(from: bytes) }
        return received(count: bytes.count, now: now)
    }

    /// A read found nothing more for now.
    mutating func readWouldBlock() -> Action {
        if unreadCount == 0 && head == nil { releaseInput() }
        return peerHungUp ? .close(reason: "peer closed") : .wait(.readable)
    }

    /// `n` bytes of the pending output were written. `.write` asks to write the rest.
    mutating func wrote(_ n: Int, now: Deadline) -> Action {
        outputStart += n
        if hasPendingOutput { return .write }
        return outputDrained(now: now)
    }

    /// The socket takes no more bytes for now.
    mutating func writeBlocked(now: Deadline) -> Action {
        // A stream's parts come over minutes; its write timeout counts from the last progress.
        if state == .streaming { deadline = now + limits.writeTimeout }
        return .wait(.writable)
    }

    /// Time passed: the action for a phase that ran out, or nil.
    mutating func timedOut(now: Deadline) -> Action? {
        guard deadline.hasPassed(now: now) else { return nil }
        switch state {
        case .handshaking:
            return .close(reason: "handshake timeout")
        case .reading:
            if isIdle { return .close(reason: "idle timeout") }
            return reject(status: 408, message: "the request was not received in time", now: now)
        case .writing, .streaming:
            return .close(reason: "write timeout")
        case .processing, .closed:
            return nil  // The handler bounds its own work by the request's deadline.
        }
    }

    /// The connection was closed: give back what it held.
    mutating func closed() {
        releaseBudget()
        finishHandler()
        state = .closed
    }

    // MARK: Events from the handler

    /// The handler's answer. Nil when it comes too late (the connection moved on or closed).
    mutating func respond(_ response: HTTPResponse, serverDraining: Bool, now: Deadline) -> Action? {
        guard state == .processing else { return nil }
        return writeResponse(response, serverDraining: serverDraining, now: now)
    }

    /// The head of a streamed response; its parts follow through `streamPart`.
    mutating func respondStreaming(_ response: HTTPResponse, serverDraining: Bool, now: Deadline) -> Action? {
        guard state == .processing else { return nil }
        finishHandler()
        releaseBudget()
        let keepAlive = (head?.keepAlive ?? false) && !response.closeConnection && !serverDraining
        closeAfterWrite = !keepAlive
        response.serializeStreamingHead(keepAlive: keepAlive, into: &output)
        if !response.body.isEmpty { HTTPResponse.appendChunk(response.body, to: &output) }
        observer.responded(
            path: requestPath, method: requestMethod, status: response.status,
            duration: now - (requestStartedAt ?? now))
        state = .streaming
        writingFinalResponse = false
        deadline = .distantFuture
        return .write
    }

    /// A part of a streamed response. Nil when the stream is gone.
    mutating func streamPart(_ part: StreamPart, now: Deadline) -> Action? {
        guard state == .streaming else { return nil }
        switch part {
        case .chunk(let bytes):
            HTTPResponse.appendChunk(bytes, to: &output)
        case .finish:
            output.append(contentsOf: "0\r\n\r\n".utf8)
            state = .writing
            writingFinalResponse = true
            deadline = now + limits.writeTimeout
        case .abort:
            return .close(reason: "streamed response aborted")
        }
        return .write
    }

    // MARK: Reading

    /// Takes the next step with what the buffer holds: parse the head once it is complete, refuse or
    /// admit its body, dispatch the request once the body is here.
    private mutating func advanceReading(now: Deadline) -> Action {
        if head == nil {
            if let refusal = parseHead(now: now) { return refusal }
            guard let head else { return .read }
            if head.expectContinue && unreadCount < head.contentLength && !sentContinue {
                sentContinue = true
                output.append(contentsOf: "HTTP/1.1 100 Continue\r\n\r\n".utf8)
                writingFinalResponse = false
                state = .writing
                return .write
            }
        }
        guard let head, unreadCount >= head.contentLength else { return .read }
        return dispatch(head, now: now)
    }

    /// Parses the head once its end has arrived and admits its body against the limits. Returns the
    /// refusal to write, or nil (with `head` set once it is complete).
    private mutating func parseHead(now: Deadline) -> Action? {
        let found: Int? = input.withUnsafeBytes { all in
            headFinder.find(in: UnsafeRawBufferPointer(rebasing: all[inputStart..<inputEnd]))
        }
        guard let headLength = found else {
            if unreadCount > limits.maxHeaderBytes + 3 {
                return reject(status: 431, message: "request line and headers exceed \(limits.maxHeaderBytes) bytes", now: now)
            }
            return nil
        }
        if headLength > limits.maxHeaderBytes {
            return reject(status: 431, message: "request line and headers exceed \(limits.maxHeaderBytes) bytes", now: now)
        }
        let parsed: Result<HTTPHead, HTTPHead.Rejection> = input.withUnsafeBytes { all in
            let headBytes = UnsafeRawBufferPointer(rebasing: all[inputStart..<(inputStart + headLength)])
            do throws(HTTPHead.Rejection) {
                return .success(try HTTPHead.parse(headBytes))
            } catch {
                return .failure(error)
            }
        }
        inputStart += headLength + 4
        headFinder.reset()
        let parsedHead: HTTPHead
        switch parsed {
        case .failure(let rejection):
            return reject(status: rejection.status, message: rejection.message, now: now)
        case .success(let value):
            parsedHead = value
        }
        requestMethod = parsedHead.method[...]
        if parsedHead.contentLength > limits.maxBodyBytes {
            return reject(
                status: 413,
                message: "request body of \(parsedHead.contentLength) bytes exceeds the limit of \(limits.maxBodyBytes)",
                now: now)
        }
        if parsedHead.contentLength > 0 {
            guard budget.reserve(parsedHead.contentLength) else {
                observer.bodyRefused(bytes: parsedHead.contentLength)
                head = parsedHead
                return reject(
                    status: 503, message: "the server holds too many request bodies; retry shortly", now: now,
                    headers: [("Retry-After", "1")])
            }
            budgetHeld = parsedHead.contentLength
            // Room for the whole body at once: the reads that follow fill it in place.
            if input.count - inputStart < parsedHead.contentLength {
                regrowInput(room: parsedHead.contentLength - unreadCount)
            }
        }
        head = parsedHead
        deadline = now + limits.bodyTimeout
        return nil
    }

    private mutating func dispatch(_ head: HTTPHead, now: Deadline) -> Action {
        let body = head.contentLength == 0 ? [] : input[inputStart..<(inputStart + head.contentLength)]
        inputStart += head.contentLength
        // The storage goes with the body; the next read starts a new buffer. Bytes of a pipelined request
        // move to a buffer of their own (writing after them in this one would copy the body's storage).
        if unreadCount == 0 {
            releaseInput()
        } else {
            regrowInput(room: Self.minimumReadRoom)
        }
        let request = HTTPRequest(
            method: head.method, target: head.target, headers: head.headers, body: body,
            remoteAddress: remoteAddress, receivedAt: now, clientCertificateVerified: clientCertificateVerified)
        requestPath = request.path
        requestMethod = request.method[...]
        state = .processing
        handlerActive = true
        observer.requestStarted(path: requestPath)
        return .dispatch(request)
    }

    /// Moves the unread bytes to the start of a new receive buffer with at least `room` bytes after them.
    private mutating func regrowInput(room: Int) {
        let unread = unreadCount
        let size = max(Self.receiveBufferSize, unread + max(room, unread))
        input = input.withUnsafeBytes { old in
            // Bytes past the unread ones are not set here: a read writes them before anything reads them,
            // so filling them first would only cost a pass over the buffer.
            [UInt8](unsafeUninitializedCapacity: size) { new, count in
                if unread > 0 {
                    UnsafeMutableRawBufferPointer(new).copyMemory(from: UnsafeRawBufferPointer(rebasing: old[inputStart..<inputEnd]))
                }
                count = size
            }
        }
        inputStart = 0
        inputEnd = unread
    }

    /// Gives the receive buffer up (nothing in it is unread), so an idle connection holds none.
    private mutating func releaseInput() {
        input = []
        inputStart = 0
        inputEnd = 0
    }

    // MARK: Writing

    /// Answers a request the server refuses itself, then closes: after a framing error the rest of the
    /// stream cannot be trusted.
    private mutating func reject(
        status: Int, message: String, now: Deadline, headers: [(name: String, value: String)] = []
    ) -> Action {
        logger.debug("request rejected", metadata: ["peer": "\(remoteAddress)", "status": "\(status)", "reason": "\(message)"])
        requestPath = head.map { HTTPRequest(method: $0.method, target: $0.target).path } ?? ""
        requestMethod = head.map { $0.method[...] } ?? ""
        if requestStartedAt == nil { requestStartedAt = now }
        var response = HTTPResponse.error(status, message, closeConnection: true)
        response.headers += headers
        return writeResponse(response, serverDraining: false, now: now)
    }

    private mutating func writeResponse(_ response: HTTPResponse, serverDraining: Bool, now: Deadline) -> Action {
        finishHandler()
        releaseBudget()
        let keepAlive = (head?.keepAlive ?? false) && !response.closeConnection && !serverDraining
        closeAfterWrite = !keepAlive
        // A response to HEAD has the headers GET would have (its Content-Length too) and no body.
        response.serialize(keepAlive: keepAlive, includeBody: requestMethod != "HEAD", into: &output)
        observer.responded(
            path: requestPath, method: requestMethod, status: response.status,
            duration: now - (requestStartedAt ?? now))
        state = .writing
        writingFinalResponse = true
        deadline = now + limits.writeTimeout
        return .write
    }

    /// Everything queued is written: what comes next depends on what was written.
    private mutating func outputDrained(now: Deadline) -> Action {
        if output.capacity > 256 * 1024 { output = [] } else { output.removeAll(keepingCapacity: true) }
        outputStart = 0
        switch state {
        case .streaming:
            // Wait for the next part; only a hang-up wakes the loop meanwhile.
            deadline = .distantFuture
            return .wait(.hangUpOnly)
        case .writing where !writingFinalResponse:
            // An interim `100 Continue` is out: read the body.
            state = .reading
            return .read
        case .writing:
            writingFinalResponse = false
            if closeAfterWrite { return .close(reason: "response complete") }
            head = nil
            sentContinue = false
            state = .reading
            requestStartedAt = nil
            if unreadCount > 0 {
                requestStartedAt = now
                deadline = now + limits.headerTimeout
            } else {
                deadline = now + limits.idleTimeout
            }
            // A pipelined request may already be buffered; otherwise wait rather than pay a read(2)
            // that would only say EAGAIN (the loop still reads what OpenSSL holds).
            let next = advanceReading(now: now)
            if case .read = next { return .wait(.readable) }
            return next
        case .handshaking, .reading, .processing, .closed:
            assertionFailure("output drained in state \(state)")
            return .wait(.readable)
        }
    }

    private mutating func finishHandler() {
        guard handlerActive else { return }
        handlerActive = false
        observer.requestFinished(path: requestPath)
    }

    /// The handler has answered (or the connection is gone): the body is no longer the server's to keep.
    private mutating func releaseBudget() {
        guard budgetHeld > 0 else { return }
        budget.release(budgetHeld)
        budgetHeld = 0
    }
}
