public import TMMBase
public import TMMJSON
public import TMMTransport
import Synchronization

/// A blocking Kubernetes API client on the project's own TLS stack.
///
/// Every call blocks its caller until the answer or the call's deadline: run calls on threads you own,
/// never on Swift's cooperative pool. Calls from many threads at once share a small pool of keep-alive
/// connections.
public final class KubeClient: Sendable {
    /// Tuning knobs; the defaults suit the webhook.
    public struct Options: Sendable {
        /// Idle keep-alive connections kept for reuse; more are closed after use. The pod annotator runs
        /// as many patches at once, so a refusal's patches find their connections open instead of paying
        /// a TLS handshake each (about 50 KB of TLS buffers per idle connection).
        public var maxIdleConnections: Int = 32
        /// The deadline of a call that does not pass one.
        public var requestTimeout: Duration = .seconds(30)
        /// A token file is re-read at least this often (and at once after a 401).
        public var tokenRefreshInterval: Duration = .seconds(60)
        /// Sent as `User-Agent`.
        public var userAgent: String = "tmm-webhook"

        public init() {}
    }

    /// The configuration this client was made from.
    public let config: KubeConfig
    public let options: Options
    private let tls: TLSContext
    private let state = Locked(State())

    private struct State {
        var idle: [PooledConnection] = []
        var token: String?
        var tokenReadAt = Deadline.distantPast
        var connectionsOpened = 0
    }

    /// Makes the TLS context; connects lazily on the first call.
    public init(config: KubeConfig, options: Options = Options()) throws(KubeError) {
        self.config = config
        self.options = options
        tls = try config.makeTLSContext()
    }

    deinit { close() }

    /// Connections opened so far (reuse keeps this low), for metrics and tests.
    public var connectionsOpened: Int { state.withLock { $0.connectionsOpened } }

    /// Closes the idle connections.
    public func close() {
        let idle = state.withLock { state -> [PooledConnection] in
            let idle = state.idle
            state.idle = []
            return idle
        }
        for connection in idle { connection.http.connection.close() }
    }

    // MARK: Verbs

    /// GETs `path` (e.g. `/api/v1/namespaces/store/pods/db-0`) and decodes the object.
    public func get(_ path: String, deadline: Deadline? = nil) throws(KubeError) -> JSON {
        try decode(try request(method: "GET", path: path, deadline: deadline).body, path)
    }

    /// One page of a LIST: `limit` items at most, starting at a previous page's `metadata.continue`.
    public func list(_ path: String, limit: Int? = nil, continue token: String? = nil, deadline: Deadline? = nil) throws(KubeError) -> JSON {
        var query: [(String, String)] = []
        if let limit { query.append(("limit", String(limit))) }
        if let token, !token.isEmpty { query.append(("continue", token)) }
        return try get(Self.appendQuery(path, query), deadline: deadline)
    }

    /// Every item of a collection, paging through `metadata.continue`, and the list's `resourceVersion`
    /// (where a WATCH should start). An expired continue token throws an `isGone` error: list again.
    public func listAll(_ path: String, pageSize: Int = 500, deadline: Deadline? = nil) throws(KubeError) -> KubeList {
        let deadline = deadline ?? defaultDeadline()
        var items: [JSON] = []
        var token: String?
        var resourceVersion = ""
        var pages = 0
        repeat {
            let page = try list(path, limit: pageSize, continue: token, deadline: deadline)
            guard let pageItems = page["items"]?.array ?? (page["items"]?.isNull == true ? [] : nil) else {
                throw KubeError(.decode, "GET \(path): the list has no items array")
            }
            items.append(contentsOf: pageItems)
            // The first page's resourceVersion is the list's snapshot; later pages repeat it.
            if pages == 0 { resourceVersion = page.value(at: "metadata", "resourceVersion")?.string ?? "" }
            token = page.value(at: "metadata", "continue")?.string
            pages += 1
        } while token.map { !$0.isEmpty } ?? false
        return KubeList(items: items, resourceVersion: resourceVersion, pages: pages)
    }

    /// PATCHes `path` with a JSON merge patch (RFC 7386: `null` removes a key) and returns the object.
    public func patch(_ path: String, mergePatch: JSON, deadline: Deadline? = nil) throws(KubeError) -> JSON {
        let response = try request(
            method: "PATCH", path: path, body: Array(mergePatch.serialized.utf8), contentType: "application/merge-patch+json",
            deadline: deadline)
        return try decode(response.body, path)
    }

    /// PATCHes `path` with a JSON merge patch serialized once by the caller (the same patch for many
    /// objects), for a caller that needs only to know it was applied: of the object sent back, only its
    /// resourceVersion is read (nil when it has none that is a number).
    @discardableResult
    public func patch(_ path: String, mergePatchBody body: [UInt8], deadline: Deadline? = nil) throws(KubeError) -> UInt64? {
        let response = try request(method: "PATCH", path: path, body: body, contentType: "application/merge-patch+json", deadline: deadline)
        return UInt64(KubeList.metadata(of: response.body).resourceVersion)
    }

    /// POSTs `body` to the collection `path` and returns the created object.
    public func create(_ path: String, _ body: JSON, deadline: Deadline? = nil) throws(KubeError) -> JSON {
        let response = try request(
            method: "POST", path: path, body: Array(body.serialized.utf8), contentType: "application/json", deadline: deadline)
        return try decode(response.body, path)
    }

    /// PUTs `body` to `path`; its `metadata.resourceVersion` makes this conditional (409 when stale).
    public func update(_ path: String, _ body: JSON, deadline: Deadline? = nil) throws(KubeError) -> JSON {
        let response = try request(
            method: "PUT", path: path, body: Array(body.serialized.utf8), contentType: "application/json", deadline: deadline)
        return try decode(response.body, path)
    }

    /// Any request; a non-2xx answer throws its `Status` as a `KubeError`. The body is gzip-decoded.
    public func request(
        method: String, path: String, body: [UInt8] = [], contentType: String? = nil, deadline: Deadline? = nil
    ) throws(KubeError) -> HTTPClientConnection.Response {
        let deadline = deadline ?? defaultDeadline()
        var retriedAfter401 = false
        while true {
            var response = try exchange(method: method, path: path, body: body, contentType: contentType, deadline: deadline)
            if let encoding = response.header("Content-Encoding"), ASCII.equalsIgnoringCase(encoding, "gzip") {
                response.body = try GzipDecoder.decodeAll(response.body)
            }
            if response.status == 401, !retriedAfter401, config.tokenFile != nil {
                // A bound token may have been rotated under us: read it again and retry once.
                retriedAfter401 = true
                _ = bearerToken(forceReload: true)
                continue
            }
            guard (200..<300).contains(response.status) else {
                throw KubeError(httpStatus: response.status, body: response.body)
            }
            return response
        }
    }

    // MARK: Internals shared with the watch

    func defaultDeadline() -> Deadline { .now() + max(options.requestTimeout, .zero) }

    func decode(_ body: [UInt8], _ path: String) throws(KubeError) -> JSON {
        do {
            return try JSON.parse(body)
        } catch {
            throw KubeError(.decode, "\(path): the answer is not JSON: \(error)")
        }
    }

    /// The headers every request carries.
    func standardHeaders(contentType: String?) -> [(String, String)] {
        var headers: [(String, String)] = [
            ("User-Agent", options.userAgent), ("Accept", "application/json"), ("Accept-Encoding", "gzip"),
        ]
        if let token = bearerToken(forceReload: false) { headers.append(("Authorization", "Bearer \(token)")) }
        if let contentType { headers.append(("Content-Type", contentType)) }
        return headers
    }

    var hostHeader: String { config.host.contains(":") ? "[\(config.host)]:\(config.port)" : "\(config.host):\(config.port)" }

    /// One request and its whole response on a pooled connection. A reused connection that the server
    /// closed while idle fails before any answer: that one case is retried on a fresh connection.
    private func exchange(
        method: String, path: String, body: [UInt8], contentType: String?, deadline: Deadline
    ) throws(KubeError) -> HTTPClientConnection.Response {
        var retriedStale = false
        while true {
            let (connection, reused) = try checkout(deadline: deadline)
            do {
                try connection.http.send(
                    method: method, target: config.pathPrefix + path, host: hostHeader, headers: standardHeaders(contentType: contentType), body: body,
                    deadline: deadline)
                let response = try connection.http.readResponse(deadline: deadline)
                checkin(connection)
                return response
            } catch {
                connection.http.connection.close()
                if error.timedOut { throw KubeError(.timeout, "\(method) \(path): no answer before the deadline") }
                if reused && !retriedStale {
                    retriedStale = true
                    continue
                }
                throw KubeError(.transport, "\(method) \(path): \(error.description)")
            }
        }
    }

    /// Tops the pool up to `count` idle connections (at most `maxIdleConnections`): drops the idle ones
    /// the server has closed, then opens the missing ones in parallel. For a caller that will need many
    /// connections at one moment and must not pay a TLS handshake for each then (a refusal patches every
    /// pod of its node before the webhook answers). Returns how many it opened; one that cannot be opened
    /// is left for a later call (or for the request that needs it).
    @discardableResult
    public func warmUp(to count: Int, deadline: Deadline) -> Int {
        let stale = state.withLock { state -> [PooledConnection] in
            var stale: [PooledConnection] = []
            state.idle.removeAll { connection in
                guard connection.http.connection.isStale() else { return false }
                stale.append(connection)
                return true
            }
            return stale
        }
        for connection in stale { connection.http.connection.close(notifyingPeer: false) }
        let missing = min(count, options.maxIdleConnections) - state.withLock { $0.idle.count }
        guard missing > 0 else { return 0 }
        let opened = Atomic<Int>(0)
        let threads = (0..<missing).map { i in
            startThread(name: "tmm-kube-warm-\(i)") { [self] in
                guard let connection = try? openConnection(deadline: deadline) else { return }
                checkin(connection)
                opened.add(1, ordering: .relaxed)
            }
        }
        for thread in threads { thread.join() }
        return opened.load(ordering: .relaxed)
    }

    /// An idle connection, or a new one.
    func checkout(deadline: Deadline) throws(KubeError) -> (PooledConnection, reused: Bool) {
        if let idle = state.withLock({ $0.idle.popLast() }) { return (idle, true) }
        return (try openConnection(deadline: deadline), false)
    }

    /// A new connection to the API server.
    private func openConnection(deadline: Deadline) throws(KubeError) -> PooledConnection {
        do {
            let connection = try TLSClientConnection(
                host: config.host, port: config.port, context: tls, serverName: config.tlsServerName, deadline: deadline)
            state.withLock { $0.connectionsOpened += 1 }
            return PooledConnection(HTTPClientConnection(connection))
        } catch {
            if error.timedOut {
                throw KubeError(.timeout, "connecting to \(hostHeader): \(error.description)")
            }
            throw KubeError(.connect, "cannot reach the API server at \(hostHeader): \(error.description)")
        }
    }

    /// Returns a connection to the pool, or closes it when it cannot be reused or the pool is full.
    func checkin(_ connection: PooledConnection) {
        guard connection.http.reusable, !connection.http.connection.isClosed else {
            connection.http.connection.close()
            return
        }
        let kept = state.withLock { state -> Bool in
            guard state.idle.count < options.maxIdleConnections else { return false }
            state.idle.append(connection)
            return true
        }
        if !kept { connection.http.connection.close() }
    }

    /// The bearer token: fixed, or read from the token file at most `tokenRefreshInterval` ago.
    func bearerToken(forceReload: Bool) -> String? {
        if let token = config.token { return token }
        guard let file = config.tokenFile else { return nil }
        let now = Deadline.now()
        let cached = state.withLock { state -> String? in
            guard !forceReload, let token = state.token, now - state.tokenReadAt < options.tokenRefreshInterval
            else { return nil }
            return token
        }
        if let cached { return cached }
        // Keep the last good token when the file is briefly unreadable (kubelet swaps it atomically).
        guard let bytes = try? readFile(file) else { return state.withLock { $0.token } }
        let token = trimmed(bytes)
        state.withLock { state in
            state.token = token
            state.tokenReadAt = now
        }
        return token
    }

    /// `path` with `query` appended, each name and value percent-encoded.
    public static func appendQuery(_ path: String, _ query: [(String, String)]) -> String {
        guard !query.isEmpty else { return path }
        var out = path
        var separator: Character = path.contains("?") ? "&" : "?"
        for (name, value) in query {
            out.append(separator)
            out += PercentEncoding.encode(name)
            out.append("=")
            out += PercentEncoding.encode(value)
            separator = "&"
        }
        return out
    }
}

/// A keep-alive connection of the pool. Used by one thread at a time: it is either in the pool (under
/// the client's lock) or checked out by exactly one call, which is what makes `@unchecked` safe.
final class PooledConnection: @unchecked Sendable {
    let http: HTTPClientConnection
    init(_ http: HTTPClientConnection) { self.http = http }
}
