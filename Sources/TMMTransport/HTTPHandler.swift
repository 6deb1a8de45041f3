/// Answers requests. Called on a server thread: answer quickly, or hand slow work elsewhere and call
/// `responder.respond` later from any thread. Exactly one response per request.
public protocol HTTPHandler: Sendable {
    func handle(_ request: HTTPRequest, responder: HTTPResponder)
}

/// Sends the response to one request. Safe to call from any thread, once.
public struct HTTPResponder: Sendable {
    let loop: EventLoop
    let connectionID: UInt64
    let fd: Int32

    public func respond(_ response: HTTPResponse) {
        loop.deliver(response, fd: fd, connectionID: connectionID)
    }
}

/// Observes what the server does, for metrics. Called on server threads; must be cheap and thread-safe.
public protocol HTTPServerObserver: Sendable {
    /// A complete request is about to be handled.
    func requestStarted(path: Substring)
    /// The handler's answer for a started request was taken (or the connection closed before it came).
    func requestFinished(path: Substring)
    /// A response was written (or failed to be) for a request to `path`, `duration` after its first byte
    /// arrived.
    func responded(path: Substring, method: Substring, status: Int, duration: Duration)
    /// A connection was accepted (+1) or closed (-1).
    func connectionsChanged(by delta: Int)
    /// A TLS handshake failed, with the reason OpenSSL gave.
    func handshakeFailed(reason: String)
    /// A request body of `bytes` was refused (503) because the server already holds its budget of bodies.
    func bodyRefused(bytes: Int)
}

extension HTTPServerObserver {
    public func requestStarted(path: Substring) {}
    public func requestFinished(path: Substring) {}
    public func responded(path: Substring, method: Substring, status: Int, duration: Duration) {}
    public func connectionsChanged(by delta: Int) {}
    public func handshakeFailed(reason: String) {}
    public func bodyRefused(bytes: Int) {}
}

/// An observer that records nothing.
public struct NoObserver: HTTPServerObserver {
    public init() {}
}
