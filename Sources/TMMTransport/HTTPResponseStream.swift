/// The body of a streamed response, sent in parts with `Transfer-Encoding: chunked` (for long-lived
/// responses such as a watch). Safe to use from any thread; parts arrive in the order they were written
/// from one thread.
///
/// Start one with `HTTPResponder.respondStreaming(_:)`; end it with `finish()` (the connection stays
/// usable) or `abort()` (the connection is closed without the final chunk, as when a peer dies mid-stream).
///
/// The webhook's own handlers never stream: the tests' fake API server (its watches) is the one user. It
/// stays in the transport because that fake server is this server, so every test that talks to it also
/// exercises the production transport; a connection enters the streaming state only when a handler calls
/// `respondStreaming`, so the production request path never passes through it.
public struct HTTPResponseStream: Sendable {
    let loop: EventLoop
    let connectionID: UInt64
    let fd: Int32

    /// Sends `bytes` as one chunk. Empty parts are skipped: a zero-length chunk would end the body.
    public func write(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        loop.send(.streamPart(fd: fd, connectionID: connectionID, .chunk(bytes)))
    }

    /// Sends the last chunk; the response is then complete.
    public func finish() {
        loop.send(.streamPart(fd: fd, connectionID: connectionID, .finish))
    }

    /// Closes the connection without ending the body.
    public func abort() {
        loop.send(.streamPart(fd: fd, connectionID: connectionID, .abort))
    }
}

extension HTTPResponder {
    /// Sends the head of `response` with chunked framing (its `body`, if any, as the first chunk) and
    /// returns the stream for the rest. Counts as this request's one response.
    public func respondStreaming(_ response: HTTPResponse) -> HTTPResponseStream {
        loop.send(.streamHead(fd: fd, connectionID: connectionID, response))
        return HTTPResponseStream(loop: loop, connectionID: connectionID, fd: fd)
    }
}
