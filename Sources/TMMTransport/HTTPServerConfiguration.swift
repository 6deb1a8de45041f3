import Glibc

/// Where and how the server listens, its limits and its timeouts.
public struct HTTPServerConfiguration: Sendable {
    /// Host to bind: an IPv4 or IPv6 literal (`0.0.0.0`, `::` binds both families).
    public var host: String
    public var port: Int
    /// Request line plus headers, in bytes; more is answered 431.
    public var maxHeaderBytes: Int = 64 * 1024
    /// Body bytes; more is answered 413 (the same 7 MiB controller-runtime allows).
    public var maxBodyBytes: Int = 7 * 1024 * 1024
    /// Request-body bytes the whole server holds at once (being received or handled). A body that does
    /// not fit is answered 503 with `Retry-After` before it is read. Bodies over
    /// `RequestBodyBudget.smallBodyBytes` may fill only three quarters of it, so admission reviews (tens
    /// of kilobytes) still get through while large bodies hold the rest. Well inside the Deployment's
    /// 512 MiB memory limit.
    public var maxBufferedBytes: Int = 64 * 1024 * 1024
    /// Time allowed to finish the TLS handshake.
    public var handshakeTimeout: Duration = .seconds(10)
    /// Time allowed to send a request's head once its first byte arrived.
    public var headerTimeout: Duration = .seconds(10)
    /// Time allowed to send a request's body once its head arrived.
    public var bodyTimeout: Duration = .seconds(30)
    /// An idle keep-alive connection is closed after this long. Longer than kube-apiserver's own 90 s so
    /// the server never closes a connection the client is about to reuse.
    public var idleTimeout: Duration = .seconds(120)
    /// Time allowed for a response to drain to a slow reader.
    public var writeTimeout: Duration = .seconds(30)
    /// On shutdown, in-flight requests get this long to finish.
    public var shutdownGracePeriod: Duration = .seconds(20)
    /// Number of event-loop threads. Default: half the CPUs (at least one). One loop serves thousands of
    /// connections; the other cores are left to the kernel's network stack, the client's side of the
    /// work (cache watches, entry decisions, annotation patches) and whatever shares the node. Measured
    /// on 2 cores: one loop gives more requests per second at 4 connections and a p99 ten times lower
    /// than two loops competing with the load generator (see bench/README.md).
    public var eventLoopCount: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) / 2)
    public var backlog: Int32 = 1024

    public init(host: String = "0.0.0.0", port: Int = 8443) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`, `[IPV6]:PORT` or `:PORT`.
    public static func parseListenAddress(_ text: String) -> (host: String, port: Int)? {
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { return nil }  // bare IPv6 needs brackets
        }
        if host.isEmpty { host = "0.0.0.0" }
        guard let port = Int(portText), (0...65535).contains(port) else { return nil }
        return (String(host), port)
    }
}
