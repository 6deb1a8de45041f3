import CLinux
import Glibc
public import TMMBase

/// A blocking TLS client connection with deadlines, for the Kubernetes client and for tests.
///
/// Each call waits with `poll` until its deadline; nothing blocks forever. Not thread-safe: one
/// request at a time per connection.
public final class TLSClientConnection {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
        /// True when the deadline passed (as opposed to a refused or broken connection).
        public var timedOut: Bool
        public init(_ description: String, timedOut: Bool = false) {
            self.description = description
            self.timedOut = timedOut
        }
    }

    let fd: Int32
    let tls: TLSStream
    public private(set) var isClosed = false

    /// Connects to `host:port` (a name or an IP literal) and completes the handshake, verifying the
    /// server's certificate for `serverName` (defaults to `host`) unless the context does not verify.
    public init(host: String, port: Int, context: TLSContext, serverName: String? = nil, deadline: Deadline) throws(Failure) {
        fd = try Self.connectTCP(host: host, port: port, deadline: deadline)
        guard let tls = TLSStream(context: context, fd: fd) else {
            Glibc.close(fd)
            throw Failure("cannot create a TLS session")
        }
        self.tls = tls
        let name = serverName ?? host
        let isIP = name.contains(":") || name.split(separator: ".").allSatisfy { Int($0) != nil }
        tls.setConnectState(serverName: isIP ? nil : name)
        tls.requireHostname(name, isIPAddress: isIP)
        while true {
            switch tls.handshake() {
            case .done: return
            case .wantRead: try wait(for: Int16(POLLIN), deadline: deadline)
            case .wantWrite: try wait(for: Int16(POLLOUT), deadline: deadline)
            case .closed:
                close(notifyingPeer: false)
                throw Failure("\(host):\(port) closed the connection during the TLS handshake")
            case .failed(let reason):
                let verify = tls.verifyError.map { " (certificate: \($0))" } ?? ""
                close(notifyingPeer: false)
                throw Failure("TLS handshake with \(host):\(port) failed: \(reason)\(verify)")
            }
        }
    }

    /// Closes the socket unless `close` did. A throw from `init` after every property is set runs this
    /// too, so the failure paths there close through `close(notifyingPeer:)`, never directly: a second
    /// `close` of the number would close whatever descriptor another thread has been given since.
    deinit { if !isClosed { Glibc.close(fd) } }

    /// The negotiated TLS version, e.g. `TLSv1.3`.
    public var protocolVersion: String { tls.protocolVersion }
    /// The server certificate's subject, e.g. `/CN=localhost`.
    public var peerSubject: String? { tls.peerSubject }
    /// The ALPN protocol the server chose, if any.
    public var alpnProtocol: String? { tls.alpn }

    /// Writes all of `bytes`.
    public func write(_ bytes: [UInt8], deadline: Deadline) throws(Failure) {
        var offset = 0
        while offset < bytes.count {
            let outcome = bytes.withUnsafeBytes { all in tls.write(UnsafeRawBufferPointer(rebasing: all[offset...])) }
            switch outcome {
            case .done(let n): offset += n
            case .wantRead: try wait(for: Int16(POLLIN), deadline: deadline)
            case .wantWrite: try wait(for: Int16(POLLOUT), deadline: deadline)
            case .closed: throw Failure("the peer closed the connection while we were writing")
            case .failed(let reason): throw Failure("write failed: \(reason)")
            }
        }
    }

    /// Reads what is available (at least one byte); returns an empty array at end of stream.
    public func read(max: Int = 64 * 1024, deadline: Deadline) throws(Failure) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: max)
        while true {
            let outcome = buffer.withUnsafeMutableBytes { tls.read(into: $0) }
            switch outcome {
            case .done(let n):
                buffer.removeLast(max - n)
                return buffer
            case .wantRead: try wait(for: Int16(POLLIN), deadline: deadline)
            case .wantWrite: try wait(for: Int16(POLLOUT), deadline: deadline)
            case .closed: return []
            case .failed(let reason): throw Failure("read failed: \(reason)")
            }
        }
    }

    /// Checks an idle connection (one with no request in flight): false when it can carry the next
    /// request, true when the server closed it (end of stream, close_notify, an error) or sent something
    /// nobody asked for. Costs one `poll` with no wait, and a read only when something arrived: TLS 1.3
    /// servers send session tickets after the handshake, which a connection that never read has still
    /// to take in, and those are no sign of trouble.
    public func isStale() -> Bool {
        guard !isClosed else { return true }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard Glibc.poll(&p, 1, 0) >= 0 else { return true }
        // OpenSSL reads ahead: a record that came with the last response (a close_notify, say) may sit
        // in its buffer, undecrypted, where neither `poll` nor `SSL_pending` sees it.
        if p.revents == 0 && !tls.hasBufferedInput { return false }
        if p.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 { return true }
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1, alignment: 1)
        defer { scratch.deallocate() }
        guard case .wantRead = tls.read(into: scratch) else { return true }
        return false
    }

    /// Sends close_notify (unless `notifyingPeer` is false: a peer that has gone would get nothing but a
    /// write to a closed socket) and closes the socket.
    public func close(notifyingPeer: Bool = true) {
        guard !isClosed else { return }
        isClosed = true
        if notifyingPeer { tls.shutdown() }
        Glibc.close(fd)
    }

    private func wait(for events: Int16, deadline: Deadline) throws(Failure) {
        try Self.poll(fd, events: events, deadline: deadline)
    }

    static func poll(_ fd: Int32, events: Int16, deadline: Deadline) throws(Failure) {
        while true {
            let now = Deadline.now()
            guard now < deadline else { throw Failure("timed out", timedOut: true) }
            var p = pollfd(fd: fd, events: events, revents: 0)
            // Rounded up, so poll does not wake just before the deadline and spin; at most a minute at once.
            let ms = Int32(min((deadline - now).totalNanoseconds / 1_000_000 + 1, 60_000))
            let r = Glibc.poll(&p, 1, ms)
            if r > 0 { return }
            if r < 0 && errno != EINTR { throw Failure("poll failed: \(String(cString: strerror(errno)))") }
        }
    }

    /// Resolves `host` and connects without blocking past `deadline`, trying each address in turn.
    static func connectTCP(host: String, port: Int, deadline: Deadline) throws(Failure) -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var result: UnsafeMutablePointer<addrinfo>?
        let name = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        let rc = getaddrinfo(name, String(port), &hints, &result)
        guard rc == 0, let first = result else {
            throw Failure("cannot resolve \(host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(result) }
        var lastError = "no address"
        var current: UnsafeMutablePointer<addrinfo>? = first
        while let info = current {
            current = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            if fd < 0 { continue }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return fd }
            guard errno == EINPROGRESS else {
                lastError = String(cString: strerror(errno))
                Glibc.close(fd)
                continue
            }
            do throws(Failure) {
                try poll(fd, events: Int16(POLLOUT), deadline: deadline)
            } catch {
                Glibc.close(fd)
                throw Failure("connecting to \(host):\(port) timed out", timedOut: true)
            }
            var soError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
            if soError == 0 { return fd }
            lastError = String(cString: strerror(soError))
            Glibc.close(fd)
        }
        throw Failure("cannot connect to \(host):\(port): \(lastError)")
    }
}
