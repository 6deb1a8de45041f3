import CZlib
public import Foundation
import Logging
import TMMBase
public import TMMJSON
public import TMMKube
public import TMMTransport

/// An API server in the test process, over TLS on 127.0.0.1, speaking the wire format recorded from
/// kube-apiserver v1.21 (see `Fixtures/README.md`): paged lists, chunked watch streams, merge patches,
/// conditional PUTs, creates, and `Status` bodies shaped byte for byte like the real ones.
public final class FakeAPIServer: Sendable {
    /// One step of a scripted watch stream.
    public enum WatchStep: Sendable {
        /// One event line (with its newline), sent as one chunk.
        case event([UInt8])
        /// Wait before the next step.
        case pause(milliseconds: Int)
        /// Close the connection without the final chunk.
        case cut
    }

    /// A request as received.
    public struct Recorded: Sendable {
        public var method: String
        public var target: String
        public var authorization: String?
        public var acceptEncoding: String?
        public var contentType: String?
    }

    public let api: API
    public let server: HTTPServer
    public let certificates: TestCertificates
    public var port: Int { server.port }

    /// With `clientCertificates`, TLS requires a client certificate signed by `certificates.ca`.
    public init(token: String? = "good-token", clientCertificates: Bool = false) throws {
        signal(SIGPIPE, SIG_IGN)
        certificates = try TestCertificates()
        api = API(validToken: token, requireClientCertificate: clientCertificates)
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.eventLoopCount = 2
        configuration.shutdownGracePeriod = .milliseconds(200)
        var logger = Logger(label: "fake-apiserver")
        logger.logLevel = .critical
        server = try HTTPServer(
            configuration: configuration, tls: TLSContextSource(try certificates.serverContext(clientCA: clientCertificates)), handler: api,
            observer: api, logger: logger)
        try api.seed(fixture: "list-pods.json", collection: "/api/v1/pods")
        try api.seed(fixture: "list-nodes.json", collection: "/api/v1/nodes")
        try api.seed(fixture: "list-pdbs.json", collection: "/apis/policy/v1/poddisruptionbudgets")
        server.start()
    }

    public func stop() {
        api.markStopped()
        server.shutdown()
    }

    /// A configuration that trusts this server's CA, with a fixed token (or a token file).
    public func config(token: String? = "good-token", tokenFile: String? = nil) -> KubeConfig {
        KubeConfig(
            host: "127.0.0.1", port: port, certificateAuthorityPEM: certificates.ca.certificatePEM,
            token: tokenFile == nil ? token : nil, tokenFile: tokenFile)
    }

    /// A kubeconfig whose cluster `fake` is this server (trusting its CA), with the given `users:` and
    /// `contexts:` entries (YAML list items, indented by nothing).
    public func kubeconfig(serverPath: String = "", users: String, contexts: String, current: String) -> String {
        """
        apiVersion: v1
        kind: Config
        clusters:
        - name: fake
          cluster: {server: "https://127.0.0.1:\(port)\(serverPath)", certificate-authority-data: \(base64(certificates.ca.certificatePEM))}
        users:
        \(users)
        contexts:
        \(contexts)
        current-context: \(current)
        """
    }

    /// The handler and its state.
    public final class API: HTTPHandler, HTTPServerObserver {
        struct State {
            var objects: [String: JSON] = [:]
            var resourceVersion = 300
            var validToken: String?
            var delay: Double = 0
            var gzip = false
            var watchScript: [WatchStep]?
            var stopped = false
            /// Scripts for one collection path, served once each in order (then the default script).
            var pathScripts: [String: [[WatchStep]]] = [:]
            /// Paths under these prefixes are answered with the status code (403 or 500), whatever the method.
            var failures: [String: Int] = [:]
            var requests: [Recorded] = []
            var connectionsAccepted = 0
        }

        let state: Locked<State>

        /// Like kube-apiserver with `--client-ca-file` and no token for the caller: a request without a
        /// verified client certificate is unauthenticated (401).
        let requireClientCertificate: Bool

        public init(validToken: String?, requireClientCertificate: Bool = false) {
            state = Locked(State(validToken: validToken))
            self.requireClientCertificate = requireClientCertificate
        }

        // MARK: Test controls

        public func rotateToken(to token: String?) { state.withLock { $0.validToken = token } }
        public func setDelay(seconds: Double) { state.withLock { $0.delay = seconds } }
        public func setGzip(_ on: Bool) { state.withLock { $0.gzip = on } }
        /// Answers every request under `prefix` with `status` (a Status body), or normally again with nil.
        public func fail(under prefix: String, status: Int?) { state.withLock { $0.failures[prefix] = status } }
        public func setWatchScript(_ steps: [WatchStep]) { state.withLock { $0.watchScript = steps } }
        /// Ends scripted pauses (the server is going away).
        public func markStopped() { state.withLock { $0.stopped = true } }
        public var isStopped: Bool { state.withLock { $0.stopped } }
        /// Queues scripts for the next watches of `path` (e.g. `/api/v1/pods`), used once each in order.
        public func queueWatchScripts(_ scripts: [[WatchStep]], for path: String) { state.withLock { $0.pathScripts[path, default: []] += scripts } }
        public var requests: [Recorded] { state.withLock { $0.requests } }
        public var connectionsAccepted: Int { state.withLock { $0.connectionsAccepted } }
        public func object(_ path: String) -> JSON? { state.withLock { $0.objects[path] } }
        /// The objects stored under a collection path.
        public func objects(under collection: String) -> [JSON] {
            state.withLock { $0.objects.filter { $0.key.hasPrefix(collection + "/") }.map(\.value) }
        }

        /// Stores every item of a fixture list under its object path.
        public func seed(fixture: String, collection: String) throws {
            let list = try JSON.parse(Array(try fixtureData(fixture)))
            for item in list["items"]?.array ?? [] {
                let name = item.value(at: "metadata", "name")?.string ?? ""
                let path: String
                if let ns = item.value(at: "metadata", "namespace")?.string {
                    let parts = collection.split(separator: "/")
                    path = "/" + parts.dropLast().joined(separator: "/") + "/namespaces/\(ns)/\(parts.last!)/\(name)"
                } else {
                    path = "\(collection)/\(name)"
                }
                state.withLock { $0.objects[path] = item }
            }
        }

        // MARK: HTTPServerObserver

        public func connectionsChanged(by delta: Int) {
            if delta > 0 { state.withLock { $0.connectionsAccepted += 1 } }
        }

        // MARK: HTTPHandler

        public func handle(_ request: HTTPRequest, responder: HTTPResponder) {
            let delay = state.withLock { state in
                state.requests.append(
                    Recorded(
                        method: request.method, target: request.target, authorization: request.header("Authorization"),
                        acceptEncoding: request.header("Accept-Encoding"), contentType: request.header("Content-Type")))
                return state.delay
            }
            if delay > 0 {
                DispatchQueue.global().asyncAfter(deadline: .now() + delay) { self.answer(request, responder) }
            } else {
                answer(request, responder)
            }
        }

        private func answer(_ request: HTTPRequest, _ responder: HTTPResponder) {
            let (valid, gzip) = state.withLock { ($0.validToken, $0.gzip) }
            // Authenticated by a verified client certificate (when asked for one) or by the valid token.
            let authenticated =
                requireClientCertificate && request.clientCertificateVerified
                || valid.map { request.header("Authorization") == "Bearer \($0)" } ?? !requireClientCertificate
            if !authenticated {
                responder.respond(.json(401, Array(try! fixtureData("status-401.json"))))
                return
            }
            let path = String(request.path)
            let query = Dictionary(request.query.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
            if path.hasPrefix("/fixture/") {
                // A recorded Status body, verbatim, with its own code.
                let data = Array(try! fixtureData(String(path.dropFirst("/fixture/".count))))
                let code = Int((try? JSON.parse(data))?["code"]?.int ?? 500)
                responder.respond(.json(code, data))
                return
            }
            if let status = state.withLock({ state in state.failures.first { path.hasPrefix($0.key) }?.value }) {
                let reason = status == 403 ? "Forbidden" : "InternalError"
                responder.respond(.json(status, Self.status(status, reason, "injected failure under this path")))
                return
            }
            if path.hasPrefix("/forbidden/") {
                responder.respond(.json(403, Array(try! fixtureData("status-403.json"))))
                return
            }
            if path == "/closing" {
                responder.respond(HTTPResponse.json(200, Array(#"{"kind":"Status","status":"Success"}"#.utf8), closeConnection: true))
                return
            }
            if query["watch"] == "1" || query["watch"] == "true" {
                serveWatch(path, responder)
                return
            }
            let response: HTTPResponse
            switch request.method {
            case "GET": response = get(path, query)
            case "PATCH": response = patch(path, request)
            case "POST": response = create(path, request)
            case "PUT": response = update(path, request)
            default: response = .json(405, Self.status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"))
            }
            if gzip, request.header("Accept-Encoding")?.contains("gzip") == true, !response.body.isEmpty {
                var compressed = response
                compressed.body = gzipCompress(response.body)
                compressed.headers.append(("Content-Encoding", "gzip"))
                responder.respond(compressed)
            } else {
                responder.respond(response)
            }
        }

        private func get(_ path: String, _ query: [String: String]) -> HTTPResponse {
            let (object, members, rv) = state.withLock { state -> (JSON?, [(String, JSON)], Int) in
                let members = state.objects.filter { Self.isMember($0.key, of: path) }.sorted { $0.key < $1.key }
                return (state.objects[path], members, state.resourceVersion)
            }
            if let object { return .json(200, Array(object.serialized.utf8)) }
            // A collection with no members is an empty list, as on the real server; anything else is 404.
            let collections: Set<String> = ["pods", "nodes", "poddisruptionbudgets", "persistentvolumes", "persistentvolumeclaims", "leases", "events"]
            guard !members.isEmpty || collections.contains(String(path.split(separator: "/").last ?? "")) else {
                return .json(404, Self.notFound(path))
            }
            var start = 0
            if let token = query["continue"] {
                guard let data = Data(base64Encoded: token), let text = String(data: data, encoding: .utf8),
                    let n = Int(text.split(separator: "=").last ?? "")
                else {
                    return .json(400, Self.status(400, "BadRequest", "continue key is not valid: illegal base64 data"))
                }
                start = n
            }
            let limit = query["limit"].flatMap { Int($0) } ?? Int.max
            let end = min(members.count, start + min(limit, members.count))
            var metadata: [String: JSON] = ["resourceVersion": .string(String(rv))]
            if end < members.count {
                metadata["continue"] = .string(Data("start=\(end)".utf8).base64EncodedString())
                metadata["remainingItemCount"] = .number(JSONNumber(Int64(members.count - end)))
            }
            let resource = path.split(separator: "/").last.map(String.init) ?? ""
            let kind = ["pods": "PodList", "nodes": "NodeList", "poddisruptionbudgets": "PodDisruptionBudgetList"][resource] ?? "List"
            let list: JSON = [
                "kind": .string(kind), "apiVersion": "v1", "metadata": .object(metadata),
                "items": .array(members[start..<end].map(\.1)),
            ]
            return .json(200, Array(list.serialized.utf8))
        }

        private func patch(_ path: String, _ request: HTTPRequest) -> HTTPResponse {
            guard request.header("Content-Type") == "application/merge-patch+json" else {
                return .json(415, Self.status(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"))
            }
            guard let patch = try? JSON.parse(Array(request.body)) else {
                return .json(400, Self.status(400, "BadRequest", "invalid JSON in the merge patch"))
            }
            let result = state.withLock { state -> JSON? in
                guard let current = state.objects[path] else { return nil }
                state.resourceVersion += 1
                var patched = Self.mergePatch(current, patch)
                patched = Self.setting(patched, resourceVersion: state.resourceVersion)
                state.objects[path] = patched
                return patched
            }
            guard let result else { return .json(404, Self.notFound(path)) }
            return .json(200, Array(result.serialized.utf8))
        }

        private func create(_ path: String, _ request: HTTPRequest) -> HTTPResponse {
            guard var body = try? JSON.parse(Array(request.body)) else {
                return .json(400, Self.status(400, "BadRequest", "invalid JSON"))
            }
            // `generateName`: the server picks the name, as Events are created.
            if body.value(at: "metadata", "name") == nil, let prefix = body.value(at: "metadata", "generateName")?.string {
                body = Self.mergePatch(body, ["metadata": ["name": .string(prefix + String(UInt32.random(in: 0...UInt32.max), radix: 36))]])
            }
            guard let name = body.value(at: "metadata", "name")?.string else {
                return .json(422, Self.status(422, "Invalid", "metadata.name: Required value: name or generateName is required"))
            }
            let key = "\(path)/\(name)"
            let created = state.withLock { state -> JSON? in
                guard state.objects[key] == nil else { return nil }
                state.resourceVersion += 1
                let object = Self.setting(body, resourceVersion: state.resourceVersion)
                state.objects[key] = object
                return object
            }
            guard let created else {
                let (resource, group) = Self.resourceAndGroup(path)
                return .json(
                    409,
                    Self.status(
                        409, "AlreadyExists", "\(Self.qualified(resource, group)) \"\(name)\" already exists",
                        details: (name, group, resource)))
            }
            return .json(201, Array(created.serialized.utf8))
        }

        private func update(_ path: String, _ request: HTTPRequest) -> HTTPResponse {
            guard let body = try? JSON.parse(Array(request.body)) else {
                return .json(400, Self.status(400, "BadRequest", "invalid JSON"))
            }
            enum Outcome { case missing, conflict, updated(JSON) }
            let outcome = state.withLock { state -> Outcome in
                guard let current = state.objects[path] else { return .missing }
                let sent = body.value(at: "metadata", "resourceVersion")?.string
                if let sent, sent != current.value(at: "metadata", "resourceVersion")?.string { return .conflict }
                state.resourceVersion += 1
                let object = Self.setting(body, resourceVersion: state.resourceVersion)
                state.objects[path] = object
                return .updated(object)
            }
            switch outcome {
            case .missing: return .json(404, Self.notFound(path))
            case .conflict:
                let parts = path.split(separator: "/")
                let name = String(parts.last ?? "")
                let (resource, group) = Self.resourceAndGroup(parts.dropLast().joined(separator: "/"))
                return .json(
                    409,
                    Self.status(
                        409, "Conflict",
                        "Operation cannot be fulfilled on \(Self.qualified(resource, group)) \"\(name)\": the object has been modified; please apply your changes to the latest version and try again",
                        details: (name, group, resource)))
            case .updated(let object): return .json(200, Array(object.serialized.utf8))
            }
        }

        private func serveWatch(_ path: String, _ responder: HTTPResponder) {
            let script = state.withLock { state -> [WatchStep] in
                if var queued = state.pathScripts[path], !queued.isEmpty {
                    let first = queued.removeFirst()
                    state.pathScripts[path] = queued
                    return first
                }
                return state.watchScript ?? Self.defaultWatchScript()
            }
            let stream = responder.respondStreaming(
                HTTPResponse(status: 200, headers: [("Cache-Control", "no-cache, private"), ("Content-Type", "application/json")]))
            // A thread of its own per stream: long scripted pauses must not hold Dispatch's shared threads
            // (many open watches at once would starve every other test's async work).
            startThread(name: "fake-watch") { [self] in
                for step in script {
                    switch step {
                    case .event(let line): stream.write(line)
                    case .pause(let ms):
                        // The scripted silence is the behaviour under test; it ends early only when the
                        // server is stopped.
                        waitUntil(timeout: Double(ms) / 1000, interval: 0.02) { isStopped }
                        if isStopped {
                            stream.abort()
                            return
                        }
                    case .cut:
                        stream.abort()
                        return
                    }
                }
                stream.finish()
            }.detach()
        }

        /// The recorded pod watch, one chunk per event, then the end of the stream.
        static func defaultWatchScript() -> [WatchStep] {
            watchLines("watch-pods.stream").map { .event($0) }
        }

        // MARK: Wire shapes

        /// A `Status` body laid out exactly as kube-apiserver v1.21 writes one (see `status-404.json`).
        public static func status(_ code: Int, _ reason: String, _ message: String, details: (name: String, group: String, kind: String)? = nil) -> [UInt8] {
            var text = "{\n  \"kind\": \"Status\",\n  \"apiVersion\": \"v1\",\n  \"metadata\": {\n    \n  },\n"
            text += "  \"status\": \"Failure\",\n  \"message\": \(JSON.string(message).serialized),\n  \"reason\": \"\(reason)\",\n"
            if let details {
                text += "  \"details\": {\n    \"name\": \(JSON.string(details.name).serialized),\n"
                if !details.group.isEmpty { text += "    \"group\": \"\(details.group)\",\n" }
                text += "    \"kind\": \"\(details.kind)\"\n  },\n"
            }
            text += "  \"code\": \(code)\n}"
            return Array(text.utf8)
        }

        public static func notFound(_ path: String) -> [UInt8] {
            let parts = path.split(separator: "/")
            let name = String(parts.last ?? "")
            let (resource, group) = resourceAndGroup(parts.dropLast().joined(separator: "/"))
            return status(404, "NotFound", "\(qualified(resource, group)) \"\(name)\" not found", details: (name, group, resource))
        }

        /// The resource and API group of a collection path.
        static func resourceAndGroup(_ collection: String) -> (String, String) {
            let parts = collection.split(separator: "/").map(String.init)
            let resource = parts.last ?? ""
            let group = parts.first == "apis" && parts.count > 1 ? parts[1] : ""
            return (resource, group)
        }

        static func qualified(_ resource: String, _ group: String) -> String { group.isEmpty ? resource : "\(resource).\(group)" }

        /// Whether the object at `key` belongs to the collection `path` (namespaced or across namespaces).
        static func isMember(_ key: String, of path: String) -> Bool {
            let k = key.split(separator: "/"), c = path.split(separator: "/")
            if k.count == c.count + 1 && Array(k.prefix(c.count)) == c { return true }
            // `/api/v1/pods` lists `/api/v1/namespaces/NS/pods/NAME`.
            guard let resource = c.last, k.count == c.count + 3 else { return false }
            let base = c.dropLast()
            return Array(k.prefix(base.count)) == Array(base) && k[base.count] == "namespaces" && k[base.count + 2] == resource
        }

        /// RFC 7386 JSON merge patch.
        static func mergePatch(_ target: JSON, _ patch: JSON) -> JSON {
            guard case .object(let patchMembers) = patch else { return patch }
            var result = target.object ?? [:]
            for (key, value) in patchMembers {
                if value.isNull {
                    result.removeValue(forKey: key)
                } else {
                    result[key] = mergePatch(result[key] ?? .null, value)
                }
            }
            return .object(result)
        }

        static func setting(_ object: JSON, resourceVersion: Int) -> JSON {
            mergePatch(object, ["metadata": ["resourceVersion": .string(String(resourceVersion))]])
        }
    }
}

/// The bytes of a fixture file.
public func fixtureData(_ name: String) throws -> Data {
    guard let url = Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil) else {
        throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: name])
    }
    return try Data(contentsOf: url)
}

/// The lines of a `.stream` fixture, each with its newline.
public func watchLines(_ name: String) -> [[UInt8]] {
    let data = Array(try! fixtureData(name))
    return data.split(separator: 0x0A).map { Array($0) + [0x0A] }
}

/// gzip-compresses `bytes` with zlib (what the API server does for large answers).
public func gzipCompress(_ bytes: [UInt8]) -> [UInt8] {
    var stream = z_stream()
    precondition(tmm_deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK)
    defer { deflateEnd(&stream) }
    var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(bytes.count))) + 64)
    var input = bytes
    input.withUnsafeMutableBufferPointer { inBuffer in
        output.withUnsafeMutableBufferPointer { outBuffer in
            stream.next_in = inBuffer.baseAddress
            stream.avail_in = UInt32(inBuffer.count)
            stream.next_out = outBuffer.baseAddress
            stream.avail_out = UInt32(outBuffer.count)
            precondition(deflate(&stream, Z_FINISH) == Z_STREAM_END)
        }
    }
    return Array(output[0..<Int(stream.total_out)])
}
