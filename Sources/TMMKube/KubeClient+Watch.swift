public import TMMBase
import TMMJSON
import TMMTransport

extension KubeClient {
    /// WATCHes `path` (a collection, e.g. `/api/v1/pods`) from `resourceVersion`, calling `onEvent` for
    /// each event in order until it returns false, the server ends the stream, or `deadline` passes
    /// (default: `timeoutSeconds` plus 30 s). Blocks the calling thread throughout.
    ///
    /// A stream that breaks in the middle throws a `.transport` error (retryable: resume from the last
    /// resourceVersion seen); an `ERROR` event is delivered to `onEvent` like any other (`event.error`).
    /// `onOpen` is called once the API server has accepted the watch (its 200 head arrived), which can
    /// be seconds after the request when its own cache is still starting.
    @discardableResult
    public func watch(
        _ path: String, resourceVersion: String?, allowBookmarks: Bool = true, timeoutSeconds: Int = 300,
        deadline: Deadline? = nil, onOpen: () -> Void = {}, onEvent: (KubeWatchEvent) -> Bool
    ) throws(KubeError) -> KubeWatchEnd {
        // `watch=true`, as client-go sends it (some emulators accept no other spelling).
        var query: [(String, String)] = [("watch", "true")]
        if let resourceVersion, !resourceVersion.isEmpty { query.append(("resourceVersion", resourceVersion)) }
        if allowBookmarks { query.append(("allowWatchBookmarks", "true")) }
        query.append(("timeoutSeconds", String(timeoutSeconds)))
        let target = config.pathPrefix + Self.appendQuery(path, query)
        let deadline = deadline ?? (.now() + .seconds(timeoutSeconds + 30))

        var retriedAfter401 = false
        var retriedStale = false
        while true {
            let (connection, reused) = try checkout(deadline: deadline)
            let http = connection.http
            var head: HTTPClientConnection.Response
            do {
                try http.send(method: "GET", target: target, host: hostHeader, headers: standardHeaders(contentType: nil), deadline: deadline)
                let (status, headers) = try http.readHead(deadline: deadline)
                head = HTTPClientConnection.Response(status: status, headers: headers, body: [])
                if status != 200 { head.body = try http.readBody(of: head, deadline: deadline) }
            } catch {
                http.connection.close()
                if error.timedOut { throw KubeError(.timeout, "WATCH \(path): no answer before the deadline") }
                if reused && !retriedStale {
                    retriedStale = true
                    continue
                }
                throw KubeError(.transport, "WATCH \(path): \(error.description)")
            }
            let gzip = head.header("Content-Encoding").map { ASCII.equalsIgnoringCase($0, "gzip") } ?? false
            if head.status != 200 {
                checkin(connection)
                if gzip { head.body = try GzipDecoder.decodeAll(head.body) }
                if head.status == 401, !retriedAfter401, config.tokenFile != nil {
                    retriedAfter401 = true
                    _ = bearerToken(forceReload: true)
                    continue
                }
                throw KubeError(httpStatus: head.status, body: head.body)
            }
            let chunked = head.header("Transfer-Encoding")?.lowercased().contains("chunked") ?? false
            // The API server has accepted the watch: from here on, its events flow.
            onOpen()
            return try readEvents(connection, chunked: chunked, gzip: gzip, path: path, deadline: deadline, onEvent: onEvent)
        }
    }

    private func readEvents(
        _ connection: PooledConnection, chunked: Bool, gzip: Bool, path: String, deadline: Deadline, onEvent: (KubeWatchEvent) -> Bool
    ) throws(KubeError) -> KubeWatchEnd {
        let http = connection.http
        let decoder = gzip ? try GzipDecoder() : nil
        var pending: [UInt8] = []
        var events = 0
        while true {
            var data: [UInt8]
            do {
                if chunked {
                    guard let chunk = try http.readChunk(deadline: deadline) else { break }
                    data = chunk
                } else {
                    data = try http.connection.read(deadline: deadline)
                    if data.isEmpty { break }
                }
            } catch {
                http.connection.close()
                if error.timedOut { return .deadline }
                throw KubeError(.transport, "WATCH \(path): the stream broke after \(events) events: \(error.description)")
            }
            if let decoder {
                do throws(KubeError) {
                    data = try decoder.decode(data)
                } catch {
                    http.connection.close()
                    throw error
                }
            }
            pending += data
            var start = 0
            while let newline = pending[start...].firstIndex(of: 0x0A) {
                let line = pending[start..<newline]
                start = newline + 1
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D }) { continue }
                let event: KubeWatchEvent
                do throws(KubeError) {
                    event = try KubeWatchEvent.decode(line: line)
                } catch {
                    http.connection.close()
                    throw error
                }
                events += 1
                if !onEvent(event) {
                    // The rest of the body will not be read: the connection cannot be reused.
                    http.connection.close()
                    return .stopped
                }
            }
            pending.removeFirst(start)
        }
        if !pending.isEmpty, !pending.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D }) {
            // The last event had no newline (a non-chunked stream cut at the end): still an event.
            let event = try KubeWatchEvent.decode(line: pending[...])
            _ = onEvent(event)
        }
        if chunked { checkin(connection) } else { http.connection.close() }
        return .serverClosed
    }
}
