import Glibc
public import TMMTransport
import Yams

/// Where the API server is and how to authenticate to it, resolved the way client-go does: an explicit
/// kubeconfig file, else `KUBECONFIG` (its first path), else the in-cluster service account.
public struct KubeConfig: Sendable {
    /// The API server's host (a name or an IP literal, without brackets) and port.
    public var host: String
    public var port: Int
    /// The name to verify the server certificate against and send as SNI (`tls-server-name`); the host
    /// when nil.
    public var tlsServerName: String?
    /// The CA bundle (PEM) that signs the API server's certificate; the system store when nil.
    public var certificateAuthorityPEM: [UInt8]?
    /// Skip verifying the server's certificate. Only ever true because the kubeconfig says so.
    public var insecureSkipTLSVerify: Bool
    /// A fixed bearer token.
    public var token: String?
    /// A file holding the bearer token, re-read periodically and after a 401 (bound tokens expire).
    public var tokenFile: String?
    /// A client certificate and its key (PEM).
    public var clientCertificatePEM: [UInt8]?
    public var clientKeyPEM: [UInt8]?
    /// The namespace of the service account, or of the kubeconfig context; nil when neither says.
    public var namespace: String?
    /// Where this configuration came from, for logs: `in-cluster` or `kubeconfig PATH (context NAME)`.
    public var source: String
    /// Things the caller must log loudly (e.g. TLS verification is off).
    public var warnings: [String]
    /// A path the server URL carries (`https://host/k8s/clusters/c-1`), put before every request path.
    public var pathPrefix: String = ""

    public init(
        host: String, port: Int, tlsServerName: String? = nil, certificateAuthorityPEM: [UInt8]? = nil,
        insecureSkipTLSVerify: Bool = false, token: String? = nil, tokenFile: String? = nil,
        clientCertificatePEM: [UInt8]? = nil, clientKeyPEM: [UInt8]? = nil, namespace: String? = nil,
        source: String = "explicit", warnings: [String] = []
    ) {
        self.host = host
        self.port = port
        self.tlsServerName = tlsServerName
        self.certificateAuthorityPEM = certificateAuthorityPEM
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
        self.token = token
        self.tokenFile = tokenFile
        self.clientCertificatePEM = clientCertificatePEM
        self.clientKeyPEM = clientKeyPEM
        self.namespace = namespace
        self.source = source
        self.warnings = warnings
    }

    /// The default service-account directory mounted into every pod.
    public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// Resolves the configuration: `kubeconfigPath` (the `--kubeconfig` flag) when given, else the first
    /// path of `KUBECONFIG`, else in-cluster when `KUBERNETES_SERVICE_HOST` is set. `context` (kubectl's
    /// `--context`) picks a context of the kubeconfig instead of its `current-context`.
    public static func load(
        kubeconfigPath: String? = nil, context: String? = nil, environment: [String: String] = processEnvironment(),
        serviceAccountDirectory: String = serviceAccountDirectory
    ) throws(KubeError) -> KubeConfig {
        let context = context.flatMap { $0.isEmpty ? nil : $0 }
        if let path = kubeconfigPath, !path.isEmpty { return try fromFile(path, context: context) }
        if let list = environment["KUBECONFIG"], let first = list.split(separator: ":").first(where: { !$0.isEmpty }) {
            return try fromFile(String(first), context: context)
        }
        if let context {
            throw KubeError(.configuration, "context \"\(context)\" needs a kubeconfig: pass --kubeconfig FILE or set KUBECONFIG")
        }
        if environment["KUBERNETES_SERVICE_HOST"] != nil {
            return try inCluster(environment: environment, serviceAccountDirectory: serviceAccountDirectory)
        }
        throw KubeError(
            .configuration,
            "no Kubernetes configuration: pass --kubeconfig FILE, set KUBECONFIG, or run in a pod (KUBERNETES_SERVICE_HOST is not set)")
    }

    /// The in-cluster configuration: the API server from `KUBERNETES_SERVICE_HOST`/`_PORT`, the service
    /// account's `token` (as a file, so rotations are seen), `ca.crt` and `namespace`.
    public static func inCluster(
        environment: [String: String] = processEnvironment(), serviceAccountDirectory: String = serviceAccountDirectory
    ) throws(KubeError) -> KubeConfig {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty else {
            throw KubeError(.configuration, "in-cluster configuration: KUBERNETES_SERVICE_HOST is not set")
        }
        let portText = environment["KUBERNETES_SERVICE_PORT"] ?? "443"
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw KubeError(.configuration, "in-cluster configuration: KUBERNETES_SERVICE_PORT '\(portText)' is not a port")
        }
        let tokenPath = "\(serviceAccountDirectory)/token"
        let token = try readConfigFile(tokenPath, what: "in-cluster configuration: the service-account token")
        guard !trimmed(token).isEmpty else {
            throw KubeError(.configuration, "in-cluster configuration: the service-account token \(tokenPath) is empty")
        }
        let ca = try readConfigFile("\(serviceAccountDirectory)/ca.crt", what: "in-cluster configuration: the CA certificate")
        let namespace = (try? readFile("\(serviceAccountDirectory)/namespace")).map(trimmed)
        let bare = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        return KubeConfig(
            host: bare, port: port, certificateAuthorityPEM: ca, tokenFile: tokenPath,
            namespace: namespace.flatMap { $0.isEmpty ? nil : $0 }, source: "in-cluster")
    }

    /// Reads a kubeconfig file and resolves `context` (its `current-context` when nil). Relative file
    /// paths in it are resolved against the file's directory.
    public static func fromFile(_ path: String, context: String? = nil) throws(KubeError) -> KubeConfig {
        let bytes = try readConfigFile(path, what: "kubeconfig")
        let where_ = "kubeconfig \(path)"
        let root: [String: Any]
        do {
            guard let node = try Yams.compose(yaml: String(decoding: bytes, as: UTF8.self)) else {
                throw KubeError(.configuration, "\(where_): not a YAML mapping")
            }
            // Yams' untyped constructor traps on a mapping key that is not a scalar (`? {a: b}: c`; found
            // by the fuzzer), so such a file is refused before it gets there.
            if let key = firstNonScalarKey(in: node) {
                throw KubeError(.configuration, "\(where_): line \((key.mark?.line).map(String.init) ?? "?"): a key that is not a plain value")
            }
            guard let parsed = node.any as? [String: Any] else {
                throw KubeError(.configuration, "\(where_): not a YAML mapping")
            }
            root = parsed
        } catch let error as KubeError {
            throw error
        } catch {
            throw KubeError(.configuration, "\(where_): invalid YAML: \(error)")
        }
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        func resolve(_ file: String) -> String { file.hasPrefix("/") ? file : "\(directory)/\(file)" }

        guard let contextName = context ?? (root["current-context"] as? String), !contextName.isEmpty else {
            throw KubeError(.configuration, "\(where_): no current-context is set")
        }
        let contextEntry = try named(root, "contexts", contextName, key: "context", where_: where_, what: "context")
        guard let clusterName = contextEntry["cluster"] as? String, !clusterName.isEmpty else {
            throw KubeError(.configuration, "\(where_): context \"\(contextName)\" has no cluster")
        }
        let cluster: [String: Any]
        do {
            cluster = try named(root, "clusters", clusterName, key: "cluster", where_: where_, what: "cluster")
        } catch {
            throw KubeError(.configuration, "\(where_): context \"\(contextName)\" has no cluster \"\(clusterName)\"")
        }
        let userName = contextEntry["user"] as? String ?? ""
        var user: [String: Any] = [:]
        if !userName.isEmpty {
            do {
                user = try named(root, "users", userName, key: "user", where_: where_, what: "user")
            } catch {
                throw KubeError(.configuration, "\(where_): context \"\(contextName)\" has no user \"\(userName)\"")
            }
        }
        let clusterWhere = "\(where_): cluster \"\(clusterName)\""
        let userWhere = "\(where_): user \"\(userName)\""

        guard let server = cluster["server"] as? String, !server.isEmpty else {
            throw KubeError(.configuration, "\(clusterWhere) has no server")
        }
        let (host, port, prefix) = try parseServer(server, where_: clusterWhere)

        var config = KubeConfig(host: host, port: port, source: "kubeconfig \(path) (context \(contextName))")
        config.pathPrefix = prefix
        config.namespace = (contextEntry["namespace"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        config.tlsServerName = (cluster["tls-server-name"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        if let data = cluster["certificate-authority-data"] as? String, !data.isEmpty {
            guard let pem = Base64.decode(data) else {
                throw KubeError(.configuration, "\(clusterWhere): certificate-authority-data is not base64")
            }
            config.certificateAuthorityPEM = pem
        } else if let file = cluster["certificate-authority"] as? String, !file.isEmpty {
            config.certificateAuthorityPEM = try readConfigFile(resolve(file), what: "\(clusterWhere): certificate-authority")
        }
        if let insecure = cluster["insecure-skip-tls-verify"] {
            guard let flag = insecure as? Bool else {
                throw KubeError(.configuration, "\(clusterWhere): insecure-skip-tls-verify must be true or false")
            }
            config.insecureSkipTLSVerify = flag
            if flag {
                config.warnings.append(
                    "INSECURE: \(clusterWhere) sets insecure-skip-tls-verify: the API server's certificate is NOT verified; anyone on the path can impersonate it"
                )
            }
        }

        if user["exec"] != nil {
            throw KubeError(.unsupported, "\(userWhere) uses an exec credential plugin, which tmm-webhook does not support; use a token, token file or client certificate")
        }
        if user["auth-provider"] != nil {
            throw KubeError(.unsupported, "\(userWhere) uses an auth-provider plugin, which tmm-webhook does not support; use a token, token file or client certificate")
        }
        if let token = user["token"] as? String, !token.isEmpty {
            config.token = token
        } else if let file = user["tokenFile"] as? String, !file.isEmpty {
            let resolved = resolve(file)
            _ = try readConfigFile(resolved, what: "\(userWhere): tokenFile")
            config.tokenFile = resolved
        }
        config.clientCertificatePEM = try material(user, "client-certificate", userWhere, resolve)
        config.clientKeyPEM = try material(user, "client-key", userWhere, resolve)
        if (config.clientCertificatePEM == nil) != (config.clientKeyPEM == nil) {
            let missing = config.clientKeyPEM == nil ? "client-key" : "client-certificate"
            throw KubeError(.configuration, "\(userWhere) has a client certificate or key but no \(missing)")
        }
        return config
    }

    /// A TLS client context for this configuration.
    public func makeTLSContext() throws(KubeError) -> TLSContext {
        do {
            return try TLSContext.client(
                trustedCAPEM: certificateAuthorityPEM, clientCertificatePEM: clientCertificatePEM, clientKeyPEM: clientKeyPEM,
                verifyPeer: !insecureSkipTLSVerify)
        } catch {
            throw KubeError(.configuration, "\(source): the TLS material is unusable: \(error)")
        }
    }

    /// This process's environment.
    public static func processEnvironment() -> [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let eq = text.firstIndex(of: "=") { result[String(text[..<eq])] = String(text[text.index(after: eq)...]) }
            pointer += 1
        }
        return result
    }

    // MARK: Helpers

    private static func readConfigFile(_ path: String, what: String) throws(KubeError) -> [UInt8] {
        do {
            return try readFile(path)
        } catch {
            throw KubeError(.configuration, "\(what) \(path) cannot be read: \(error)")
        }
    }

    /// The `key` mapping of the entry called `name` in the list `list` (`contexts`, `clusters`, `users`).
    private static func named(
        _ root: [String: Any], _ list: String, _ name: String, key: String, where_: String, what: String
    ) throws(KubeError) -> [String: Any] {
        let entries = root[list] as? [Any] ?? []
        for case let entry as [String: Any] in entries where entry["name"] as? String == name {
            return entry[key] as? [String: Any] ?? [:]
        }
        throw KubeError(.configuration, "\(where_): no \(what) \"\(name)\"")
    }

    /// `NAME-data` (base64) or the file `NAME`.
    private static func material(
        _ user: [String: Any], _ name: String, _ where_: String, _ resolve: (String) -> String
    ) throws(KubeError) -> [UInt8]? {
        if let data = user["\(name)-data"] as? String, !data.isEmpty {
            guard let bytes = Base64.decode(data) else { throw KubeError(.configuration, "\(where_): \(name)-data is not base64") }
            return bytes
        }
        if let file = user[name] as? String, !file.isEmpty {
            return try readConfigFile(resolve(file), what: "\(where_): \(name)")
        }
        return nil
    }

    /// `https://host[:port][/prefix]`; IPv6 hosts in brackets.
    static func parseServer(_ server: String, where_: String) throws(KubeError) -> (String, Int, String) {
        guard server.hasPrefix("https://") else {
            throw KubeError(.configuration, "\(where_): server \"\(server)\" must be an https:// URL")
        }
        var rest = server.dropFirst("https://".count)
        var prefix = ""
        if let slash = rest.firstIndex(of: "/") {
            prefix = String(rest[slash...])
            while prefix.hasSuffix("/") { prefix.removeLast() }
            rest = rest[..<slash]
        }
        var host: Substring
        var port = 443
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw KubeError(.configuration, "\(where_): server \"\(server)\" is not a URL") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()) else { throw KubeError(.configuration, "\(where_): server \"\(server)\" has a bad port") }
                port = p
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            guard let p = Int(rest[rest.index(after: colon)...]) else {
                throw KubeError(.configuration, "\(where_): server \"\(server)\" has a bad port")
            }
            port = p
        } else {
            host = rest
        }
        guard !host.isEmpty, (1...65535).contains(port) else {
            throw KubeError(.configuration, "\(where_): server \"\(server)\" is not a URL")
        }
        return (String(host), port, prefix)
    }
}

func trimmed(_ bytes: [UInt8]) -> String {
    var slice = bytes[...]
    while let last = slice.last, last == 0x0A || last == 0x0D || last == 0x20 || last == 0x09 { slice = slice.dropLast() }
    while let first = slice.first, first == 0x0A || first == 0x0D || first == 0x20 || first == 0x09 { slice = slice.dropFirst() }
    return String(decoding: slice, as: UTF8.self)
}

/// The first mapping key anywhere in `node` that is not a scalar, if any.
private func firstNonScalarKey(in node: Yams.Node) -> Yams.Node? {
    var pending = [node]
    while let next = pending.popLast() {
        switch next {
        case .mapping(let mapping):
            for (key, value) in mapping {
                guard case .scalar = key else { return key }
                pending.append(value)
            }
        case .sequence(let sequence):
            pending.append(contentsOf: sequence)
        default:
            break
        }
    }
    return nil
}
