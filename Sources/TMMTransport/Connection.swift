/// One client connection. Owned by a single event loop and only touched on its thread.
final class Connection {
    enum State {
        /// TLS handshake in progress.
        case handshaking
        /// Reading a request (or idle between requests).
        case reading
        /// A handler has the request; no reading until it answers.
        case processing
        /// Writing a response.
        case writing
        /// Writing a streamed (chunked) response whose parts come from the handler over time.
        case streaming
    }

    let fd: Int32
    let id: UInt64
    let tls: TLSStream
    let remoteAddress: String
    var state: State = .handshaking
    /// The client presented a certificate that verified (set when the handshake completes).
    var clientCertificateVerified = false
    /// Epoll events currently registered.
    var interest: UInt32 = 0

    /// Received bytes not yet consumed; `inputStart` is where unread data begins.
    var input: [UInt8] = []
    var inputStart = 0
    /// The head of the request being read, once complete.
    var head: HTTPHead?
    /// Where the search for the end of the next head stands.
    var headFinder = HTTPHeadFinder()
    /// Bytes of the server's request-body budget held for this connection's current request.
    var budgetHeld = 0
    /// Bytes to write; `outputStart` is how much is already written.
    var output: [UInt8] = []
    var outputStart = 0
    /// True while `output` holds a final response (not just `100 Continue`).
    var writingFinalResponse = false
    var closeAfterWrite = false
    /// True between `requestStarted` and the matching `responded` (for the in-flight gauge).
    var handlerActive = false
    var sentContinue = false

    /// When the current phase times out (monotonic ns).
    var deadline: UInt64 = 0
    /// When the current request's first byte arrived, and when it was complete.
    var requestStartedAt: UInt64 = 0
    var requestPath: Substring = ""
    var requestMethod: Substring = ""

    init(fd: Int32, id: UInt64, tls: TLSStream, remoteAddress: String) {
        self.fd = fd
        self.id = id
        self.tls = tls
        self.remoteAddress = remoteAddress
    }

    var unreadCount: Int { input.count - inputStart }

    /// True when nothing of a next request has arrived: the connection may be closed without losing work.
    var isIdle: Bool { state == .reading && head == nil && unreadCount == 0 && output.count == outputStart }

    /// Drops consumed input so the buffer does not grow across keep-alive requests.
    func compactInput() {
        if inputStart == input.count {
            if input.capacity > 256 * 1024 { input = [] } else { input.removeAll(keepingCapacity: true) }
            inputStart = 0
        } else if inputStart > 64 * 1024 {
            input.removeFirst(inputStart)
            inputStart = 0
        }
    }
}
