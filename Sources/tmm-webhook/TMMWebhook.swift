import ArgumentParser
import Glibc
import Logging
import TMMApp
import TMMPolicy
import TMMTransport

@main
struct TMMWebhook: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tmm-webhook",
        abstract: "A Kubernetes admission webhook that refuses unsafe Temporary Maintenance Mode entries.",
        subcommands: [Serve.self, Check.self, Review.self, Plan.self, Certs.self],
        defaultSubcommand: nil
    )

    /// Like ParsableCommand's, except that usage errors exit 2 (not 64): `check` promises 0 allowed,
    /// 1 denied, 2 error, and scripts can rely on that for every command.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .success || code.rawValue == 1 || error is ExitCode {
                exit(withError: error)
            }
            let message = fullMessage(for: error)
            if !message.isEmpty { FileHandleStderr.write(message + "\n") }
            Glibc.exit(2)
        }
    }
}

/// Options shared by commands that log.
struct LoggingOptions: ParsableArguments {
    @Option(help: "Log format: text or json (env TMM_LOG_FORMAT).")
    var logFormat: String = env("TMM_LOG_FORMAT") ?? "text"

    @Option(help: "Log level: trace, debug, info, notice, warning, error (env TMM_LOG_LEVEL).")
    var logLevel: String = env("TMM_LOG_LEVEL") ?? "info"

    func bootstrap() throws -> Logger {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level '\(logLevel)' is not one of trace, debug, info, notice, warning, error")
        }
        switch logFormat {
        case "json":
            LoggingSystem.bootstrap { label in
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
        case "text":
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        default:
            throw ValidationError("--log-format '\(logFormat)' is not text or json")
        }
        return Logger(label: "tmm-webhook")
    }
}

func env(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    let s = String(cString: value)
    return s.isEmpty ? nil : s
}

func seconds(_ name: String, _ value: Double) throws -> Duration {
    guard value.isFinite, value >= 0 else { throw ValidationError("\(name) must be a non-negative number of seconds") }
    return .milliseconds(Int64(value * 1000))
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the admission webhook over HTTPS (POST /validate, GET /healthz, GET /readyz).")

    @Option(help: "Address to listen on, HOST:PORT; [::]:PORT for IPv6 and IPv4 (env TMM_LISTEN).")
    var listen: String = env("TMM_LISTEN") ?? "0.0.0.0:8443"

    @Option(help: "PEM certificate (may hold a chain); reloaded when it changes. Without it and --tls-key, a development certificate is made in certs/ (env TMM_TLS_CERT).")
    var tlsCert: String?

    @Option(help: "PEM private key, RSA or ECDSA (env TMM_TLS_KEY).")
    var tlsKey: String?

    @Option(help: "PEM CA bundle: require a client certificate signed by it (env TMM_CLIENT_CA).")
    var clientCa: String?

    @Option(help: "Largest request line plus headers, in bytes (431 beyond) (env TMM_MAX_HEADER_BYTES).")
    var maxHeaderBytes: Int = env("TMM_MAX_HEADER_BYTES").flatMap { Int($0) } ?? 64 * 1024

    @Option(help: "Largest request body, in bytes (413 beyond) (env TMM_MAX_BODY_BYTES).")
    var maxBodyBytes: Int = env("TMM_MAX_BODY_BYTES").flatMap { Int($0) } ?? 7 * 1024 * 1024

    @Option(help: "Request-body bytes held at once across all connections; a body past it is answered 503 with Retry-After (env TMM_MAX_BUFFERED_BYTES).")
    var maxBufferedBytes: Int = env("TMM_MAX_BUFFERED_BYTES").flatMap { Int($0) } ?? 64 * 1024 * 1024

    @Option(help: "Seconds allowed for the TLS handshake and for a request's headers (env TMM_HANDSHAKE_TIMEOUT).")
    var handshakeTimeout: Double = env("TMM_HANDSHAKE_TIMEOUT").flatMap { Double($0) } ?? 10

    @Option(help: "Seconds an idle keep-alive connection stays open; keep above kube-apiserver's 90 (env TMM_IDLE_TIMEOUT).")
    var idleTimeout: Double = env("TMM_IDLE_TIMEOUT").flatMap { Double($0) } ?? 120

    @Option(help: "Seconds in-flight requests get to finish after SIGTERM (env TMM_SHUTDOWN_GRACE).")
    var shutdownGrace: Double = env("TMM_SHUTDOWN_GRACE").flatMap { Double($0) } ?? 20

    @Option(help: "Seconds between checks of the certificate and policy files for changes (env TMM_CERT_CHECK_INTERVAL).")
    var certCheckInterval: Double = env("TMM_CERT_CHECK_INTERVAL").flatMap { Double($0) } ?? 5

    @Option(help: "Event-loop threads (default: half the CPUs, at least one) (env TMM_EVENT_LOOPS).")
    var eventLoops: Int?

    @Option(help: "Decide from this cluster snapshot (kubectl get nodes,pods,pdb -A -o json); repeatable (env TMM_STATE, comma-separated).")
    var state: [String] = []

    @Option(help: "Policy YAML; every key optional (env TMM_CONFIG).")
    var config: String?

    @Option(help: "Kubeconfig for live mode (else KUBECONFIG, else in-cluster when in a pod).")
    var kubeconfig: String?

    @Option(help: "The webhook's own namespace, where the admitted-entries Lease lives (env TMM_NAMESPACE; default: the service account's).")
    var namespace: String?

    @Option(help: "This replica's name, for Events and the Lease (env TMM_POD_NAME; default: the host name).")
    var podName: String?

    @Option(help: "The ConfigMap the policy file is mounted from; a refused policy is reported as an Event on it (env TMM_POLICY_CONFIGMAP).")
    var policyConfigmap: String = env("TMM_POLICY_CONFIGMAP") ?? "tmm-webhook-policy"

    @Option(help: "Seconds an admitted entry counts as a node in maintenance before its taint is seen (env TMM_PENDING_TTL).")
    var pendingTtl: Double = env("TMM_PENDING_TTL").flatMap { Double($0) } ?? 60

    @Option(help: "Seconds an entry decision waits for the cache to catch up with the API server (env TMM_FRESHNESS_WAIT).")
    var freshnessWait: Double = env("TMM_FRESHNESS_WAIT").flatMap { Double($0) } ?? 1

    @Option(help: "Seconds before the reconciler removes a failure annotation from a pod whose node is not in maintenance (env TMM_ANNOTATION_GRACE).")
    var annotationGrace: Double = env("TMM_ANNOTATION_GRACE").flatMap { Double($0) } ?? 600

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let logger = try logging.bootstrap()
        var options = ServeOptions()
        options.listen = listen
        options.tlsCertificate = tlsCert ?? env("TMM_TLS_CERT")
        options.tlsKey = tlsKey ?? env("TMM_TLS_KEY")
        options.clientCA = clientCa ?? env("TMM_CLIENT_CA")
        options.maxHeaderBytes = maxHeaderBytes
        options.maxBodyBytes = maxBodyBytes
        guard maxBufferedBytes >= maxBodyBytes else {
            throw ValidationError("--max-buffered-bytes (\(maxBufferedBytes)) must be at least --max-body-bytes (\(maxBodyBytes))")
        }
        options.maxBufferedBytes = maxBufferedBytes
        options.handshakeTimeout = try seconds("--handshake-timeout", handshakeTimeout)
        options.idleTimeout = try seconds("--idle-timeout", idleTimeout)
        options.shutdownGrace = try seconds("--shutdown-grace", shutdownGrace)
        options.certificateCheckInterval = try seconds("--cert-check-interval", max(0.1, certCheckInterval))
        options.eventLoops = eventLoops ?? env("TMM_EVENT_LOOPS").flatMap { Int($0) }
        options.statePaths = state.isEmpty ? (env("TMM_STATE")?.split(separator: ",").map(String.init) ?? []) : state
        options.configPath = config ?? env("TMM_CONFIG")
        options.kubeconfig = kubeconfig
        options.policyConfigMap = policyConfigmap
        options.namespace = namespace ?? env("TMM_NAMESPACE")
        options.podName = podName ?? env("TMM_POD_NAME")
        options.pendingTTL = try seconds("--pending-ttl", pendingTtl)
        options.freshnessWait = try seconds("--freshness-wait", freshnessWait)
        options.annotationGrace = try seconds("--annotation-grace", annotationGrace)
        do {
            try WebhookServer.run(options, logger: logger)
        } catch let error as WebhookServer.StartupError {
            logger.critical("cannot start: \(error.description)")
            throw ExitCode(1)
        }
    }
}

struct Certs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a CA and a serving certificate (ECDSA P-256) and print the base64 caBundle.",
        discussion: "Writes ca.crt, ca.key, tls.crt and tls.key into --out. Keys are mode 0600; never commit them.")

    @Option(help: "Directory to write into (created if missing).")
    var out: String

    @Option(name: .customLong("dns"), help: "A DNS name for the serving certificate (repeatable).")
    var dnsNames: [String] = []

    @Option(name: .customLong("ip"), help: "An IP address for the serving certificate (repeatable).")
    var ipAddresses: [String] = []

    @Option(help: "Validity of the serving certificate, in days.")
    var days: Int = 365

    func validate() throws {
        if dnsNames.isEmpty && ipAddresses.isEmpty {
            throw ValidationError("give at least one --dns NAME or --ip ADDRESS, e.g. --dns tmm-webhook.tmm-system.svc")
        }
        guard days > 0 else { throw ValidationError("--days must be positive") }
    }

    func run() throws {
        do {
            let bundle = try DevelopmentCertificates.write(
                directory: out, dnsNames: dnsNames, ipAddresses: ipAddresses, validityDays: days)
            print(bundle)
        } catch {
            FileHandleStderr.write("tmm-webhook certs: \(error)\n")
            throw ExitCode(2)
        }
    }
}

enum FileHandleStderr {
    static func write(_ text: String) {
        var bytes = Array(text.utf8)
        _ = Glibc.write(2, &bytes, bytes.count)
    }
}

/// Options shared by the offline commands.
struct StateOptions: ParsableArguments {
    @Option(help: "Cluster state: kubectl get nodes,pods,pdb,pv,pvc -A -o json output, or list bodies; repeatable (env TMM_STATE, comma-separated).")
    var state: [String] = []

    @Option(help: "Policy YAML (defaults when omitted) (env TMM_CONFIG).")
    var config: String?

    func load() throws -> (ClusterState, PolicyConfig) {
        let state = self.state.isEmpty ? (env("TMM_STATE")?.split(separator: ",").map(String.init) ?? []) : self.state
        let config = self.config ?? env("TMM_CONFIG")
        guard !state.isEmpty else {
            throw WebhookServer.StartupError("--state FILE is required (e.g. kubectl get nodes,pods,pdb,pv,pvc -A -o json > state.json)")
        }
        return (try loadState(state), try loadPolicy(config))
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// `--level` of check and plan.
enum LevelArgument: String, ExpressibleByArgument, CaseIterable {
    case plannedDowntime = "planned-downtime", drain

    var level: MaintenanceLevel { self == .drain ? .drain : .plannedDowntime }
}

/// Runs `body`, turning startup errors into exit code 2 with the message on standard error.
func exitingOnError<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as WebhookServer.StartupError {
        FileHandleStderr.write("tmm-webhook: \(error.description)\n")
        throw ExitCode(2)
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Would NODE be allowed to enter maintenance now, and why. Exit 0 allowed, 1 denied, 2 error.")

    @Argument(help: "The node to check.")
    var node: String

    @Option(help: "The maintenance level asked for: planned-downtime (pods with a volume local to the node wait for it) or drain (every pod must leave).")
    var level: LevelArgument = .plannedDowntime

    @OptionGroup var stateOptions: StateOptions

    @Option(help: "text or json.")
    var output: OutputFormat = .text

    func run() throws {
        let (state, config) = try exitingOnError { try stateOptions.load() }
        let report = CheckReport.make(node: node, state: state, engine: PolicyEngine(config: config), level: level.level)
        print(output == .json ? report.json : report.text)
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }
}

struct Review: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the AdmissionReview response the server would give to a request (FILE or - for stdin).")

    @Argument(help: "An AdmissionReview request (JSON); - reads standard input.")
    var file: String = "-"

    @OptionGroup var stateOptions: StateOptions

    func run() throws {
        let (state, config) = try exitingOnError { try stateOptions.load() }
        let body: [UInt8]
        if file == "-" {
            var bytes: [UInt8] = []
            while let line = readLine(strippingNewline: false) { bytes += Array(line.utf8) }
            body = bytes
        } else {
            body = try exitingOnError {
                do { return try readFile(file) } catch { throw WebhookServer.StartupError("\(error)") }
            }
        }
        var logger = Logger(label: "tmm-webhook")
        logger.logLevel = .error
        let (status, response) = OfflineReview.review(body: body, state: state, config: config, logger: logger)
        print(String(decoding: response, as: UTF8.self), terminator: "")
        if status != 200 { throw ExitCode(2) }
    }
}

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A safe rolling order for taking every node through maintenance, in waves of at most maxNodesInMaintenance.")

    @OptionGroup var stateOptions: StateOptions

    @Option(help: "The maintenance level of every entry: planned-downtime or drain.")
    var level: LevelArgument = .plannedDowntime

    @Option(help: "text or json.")
    var output: OutputFormat = .text

    func run() throws {
        let (state, config) = try exitingOnError { try stateOptions.load() }
        let plan = RolloutPlan.make(state: state, engine: PolicyEngine(config: config), level: level.level)
        print(output == .json ? plan.json : plan.text)
    }
}
