import ArgumentParser
import Glibc
import Logging
import TMMApp
import TMMPolicy
import TMMTransport

/// `kubectl-tmm` when run under that name (a kubectl plugin: `kubectl tmm status`), else `tmm-webhook`.
let programName: String = {
    let first = CommandLine.arguments.first ?? ""
    return first.split(separator: "/").last == "kubectl-tmm" ? "kubectl-tmm" : "tmm-webhook"
}()

@main
struct TMMWebhook: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: programName == "kubectl-tmm" ? "kubectl tmm" : "tmm-webhook",
        abstract: programName == "kubectl-tmm"
            ? "Temporary Maintenance Mode from kubectl: may a node go now (check), in what order (plan), what is in maintenance (status)."
            : "A Kubernetes admission webhook that refuses unsafe Temporary Maintenance Mode entries.",
        subcommands: [Serve.self, Check.self, Review.self, Plan.self, Status.self, Certs.self],
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
    @Option(help: "Log format: text or json (env TMM_LOG_FORMAT; default text).")
    var logFormat: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error (env TMM_LOG_LEVEL; default info).")
    var logLevel: String?

    func bootstrap() throws -> Logger {
        let levelName = try Setting.resolve(
            logLevel, flag: "--log-level", env: "TMM_LOG_LEVEL", default: "info",
            Setting.oneOf(["trace", "debug", "info", "notice", "warning", "error", "critical"]))
        let format = try Setting.resolve(logFormat, flag: "--log-format", env: "TMM_LOG_FORMAT", default: "text", Setting.oneOf(["text", "json"]))
        let level = Logger.Level(rawValue: levelName)!
        if format == "json" {
            LoggingSystem.bootstrap { label in
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
        } else {
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        }
        let logger = Logger(label: "tmm-webhook")
        for name in unknownEnvironmentVariables() {
            logger.warning("ignoring unknown environment variable \(name) (misspelt? tmm-webhook serve --help lists the variables)")
        }
        return logger
    }
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the admission webhook over HTTPS (POST /validate, GET /healthz, GET /readyz).",
        discussion: """
            Every option can also be set by the environment variable named in its help; the flag wins. Durations \
            are seconds (10, 0.5) or Go durations (10s, 1m30s). A bad value in a flag or a variable stops the \
            program with a message naming it.
            """)

    @Option(help: "Address to listen on, HOST:PORT; [::]:PORT for IPv6 and IPv4 (env TMM_LISTEN; default 0.0.0.0:8443).")
    var listen: String?

    @Option(help: "PEM certificate (may hold a chain); reloaded when it changes. Without it and --tls-key, a development certificate is made in certs/ (env TMM_TLS_CERT).")
    var tlsCert: String?

    @Option(help: "PEM private key, RSA or ECDSA (env TMM_TLS_KEY).")
    var tlsKey: String?

    @Option(help: "PEM CA bundle: require a client certificate signed by it (env TMM_CLIENT_CA).")
    var clientCa: String?

    @Option(help: "Largest request line plus headers, in bytes, 431 beyond (env TMM_MAX_HEADER_BYTES; default 65536).")
    var maxHeaderBytes: String?

    @Option(help: "Largest request body, in bytes, 413 beyond (env TMM_MAX_BODY_BYTES; default 7340032).")
    var maxBodyBytes: String?

    @Option(help: "Request-body bytes held at once across all connections; a body past it is answered 503 with Retry-After (env TMM_MAX_BUFFERED_BYTES; default 67108864).")
    var maxBufferedBytes: String?

    @Option(help: "Time allowed for the TLS handshake and for a request's headers (env TMM_HANDSHAKE_TIMEOUT; default 10s).")
    var handshakeTimeout: String?

    @Option(help: "How long an idle keep-alive connection stays open; keep above kube-apiserver's 90s (env TMM_IDLE_TIMEOUT; default 120s).")
    var idleTimeout: String?

    @Option(help: "How long in-flight requests get to finish after SIGTERM (env TMM_SHUTDOWN_GRACE; default 20s).")
    var shutdownGrace: String?

    @Option(help: "How often the certificate and policy files are checked for changes, at least 0.1s (env TMM_CERT_CHECK_INTERVAL; default 5s).")
    var certCheckInterval: String?

    @Option(help: "Event-loop threads (env TMM_EVENT_LOOPS; default: half the CPUs, at least one).")
    var eventLoops: String?

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

    @Option(help: "The ConfigMap the policy file is mounted from; a refused policy is reported as an Event on it (env TMM_POLICY_CONFIGMAP; default tmm-webhook-policy).")
    var policyConfigmap: String?


    @Option(help: "How long an entry decision waits for the cache to catch up with the API server (env TMM_FRESHNESS_WAIT; default 1s).")
    var freshnessWait: String?

    @Option(help: "How long the freshness check allows an event already on the wire to arrive, before a quiet resource counts as current (env TMM_FRESHNESS_QUIET; default 100ms; raise it when tmm_webhook_watch_write_delay_seconds comes near it).")
    var freshnessQuiet: String?

    @Option(help: "How long before the reconciler removes a failure annotation from a pod whose node is not in maintenance (env TMM_ANNOTATION_GRACE; default 600s).")
    var annotationGrace: String?

    @OptionGroup var logging: LoggingOptions

    /// Every setting parsed, the flag's or the variable's, the same way.
    func options() throws(Setting.BadValue) -> ServeOptions {
        var o = ServeOptions()
        o.listen = try Setting.resolve(listen, flag: "--listen", env: "TMM_LISTEN", default: o.listen, Setting.listenAddress)
        o.tlsCertificate = try Setting.resolve(tlsCert, flag: "--tls-cert", env: "TMM_TLS_CERT", Setting.text)
        o.tlsKey = try Setting.resolve(tlsKey, flag: "--tls-key", env: "TMM_TLS_KEY", Setting.text)
        o.clientCA = try Setting.resolve(clientCa, flag: "--client-ca", env: "TMM_CLIENT_CA", Setting.text)
        o.maxHeaderBytes = try Setting.resolve(
            maxHeaderBytes, flag: "--max-header-bytes", env: "TMM_MAX_HEADER_BYTES", default: o.maxHeaderBytes,
            Setting.integer(1024...(16 << 20), unit: "bytes"))
        o.maxBodyBytes = try Setting.resolve(
            maxBodyBytes, flag: "--max-body-bytes", env: "TMM_MAX_BODY_BYTES", default: o.maxBodyBytes,
            Setting.integer(1024...(1 << 30), unit: "bytes"))
        o.maxBufferedBytes = try Setting.resolve(
            maxBufferedBytes, flag: "--max-buffered-bytes", env: "TMM_MAX_BUFFERED_BYTES", default: o.maxBufferedBytes,
            Setting.integer(1024...(16 << 30), unit: "bytes"))
        guard o.maxBufferedBytes >= o.maxBodyBytes else {
            let origin = maxBufferedBytes != nil ? "--max-buffered-bytes" : "TMM_MAX_BUFFERED_BYTES"
            throw Setting.BadValue(
                origin: origin, value: String(o.maxBufferedBytes), expected: "at least the largest body (\(o.maxBodyBytes) bytes)")
        }
        o.handshakeTimeout = try Setting.resolve(
            handshakeTimeout, flag: "--handshake-timeout", env: "TMM_HANDSHAKE_TIMEOUT", default: o.handshakeTimeout,
            Setting.duration(minimum: .milliseconds(1)))
        o.idleTimeout = try Setting.resolve(
            idleTimeout, flag: "--idle-timeout", env: "TMM_IDLE_TIMEOUT", default: o.idleTimeout, Setting.duration(minimum: .milliseconds(1)))
        o.shutdownGrace = try Setting.resolve(
            shutdownGrace, flag: "--shutdown-grace", env: "TMM_SHUTDOWN_GRACE", default: o.shutdownGrace, Setting.duration())
        o.certificateCheckInterval = try Setting.resolve(
            certCheckInterval, flag: "--cert-check-interval", env: "TMM_CERT_CHECK_INTERVAL", default: o.certificateCheckInterval,
            Setting.duration(minimum: .milliseconds(100)))
        o.eventLoops = try Setting.resolve(eventLoops, flag: "--event-loops", env: "TMM_EVENT_LOOPS", Setting.integer(1...256, unit: "threads"))
        o.statePaths = try state.isEmpty ? (Setting.resolve(nil, flag: "--state", env: "TMM_STATE", Setting.list) ?? []) : state
        o.configPath = try Setting.resolve(config, flag: "--config", env: "TMM_CONFIG", Setting.text)
        o.kubeconfig = try Setting.resolve(kubeconfig, flag: "--kubeconfig", env: nil, Setting.text)
        o.policyConfigMap = try Setting.resolve(
            policyConfigmap, flag: "--policy-configmap", env: "TMM_POLICY_CONFIGMAP", default: o.policyConfigMap, Setting.text)
        o.namespace = try Setting.resolve(namespace, flag: "--namespace", env: "TMM_NAMESPACE", Setting.text)
        o.podName = try Setting.resolve(podName, flag: "--pod-name", env: "TMM_POD_NAME", Setting.text)
        o.freshnessWait = try Setting.resolve(
            freshnessWait, flag: "--freshness-wait", env: "TMM_FRESHNESS_WAIT", default: o.freshnessWait, Setting.duration())
        o.freshnessQuiet = try Setting.resolve(
            freshnessQuiet, flag: "--freshness-quiet", env: "TMM_FRESHNESS_QUIET", default: o.freshnessQuiet,
            Setting.duration(minimum: .milliseconds(10)))
        // A quiet wait as long as the whole wait would fail every entry on a quiet cluster closed.
        guard o.freshnessQuiet < o.freshnessWait else {
            throw Setting.BadValue(
                origin: freshnessQuiet == nil ? "TMM_FRESHNESS_QUIET" : "--freshness-quiet",
                value: freshnessQuiet ?? Setting.environment("TMM_FRESHNESS_QUIET") ?? "",
                expected: "shorter than the freshness wait (\(Int(o.freshnessWait.inMilliseconds)) ms)")
        }
        o.annotationGrace = try Setting.resolve(
            annotationGrace, flag: "--annotation-grace", env: "TMM_ANNOTATION_GRACE", default: o.annotationGrace, Setting.duration())
        return o
    }

    func run() throws {
        let options = try settingOrExit { try self.options() }
        let logger = try settingOrExit { try logging.bootstrap() }
        do {
            try WebhookServer.run(options, logger: logger)
        } catch let error as WebhookServer.StartupError {
            logger.critical("cannot start: \(error.description)")
            throw ExitCode(1)
        }
    }
}

/// Runs `body`; a bad setting is printed as `tmm-webhook: <message>` and exits 2, like a bad flag.
func settingOrExit<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as Setting.BadValue {
        FileHandleStderr.write("\(programName): \(error.description)\n")
        throw ExitCode(2)
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

