import TMMTestSupport
import Foundation
import Testing
import TMMJSON

/// The built binary's command line: every flag and variable parsed one way, bad values refused by name;
/// and what `/metrics` says about itself.
@Suite struct CommandLineTests {
    /// (environment, arguments, what standard error must name)
    @Test(arguments: [
        (["TMM_MAX_HEADER_BYTES=abc"], ["serve"], "TMM_MAX_HEADER_BYTES='abc' is not a whole number of bytes"),
        (["TMM_MAX_HEADER_BYTES=12"], ["serve"], "TMM_MAX_HEADER_BYTES='12' is not a whole number of bytes, from 1024"),
        (["TMM_MAX_BODY_BYTES=7MB"], ["serve"], "TMM_MAX_BODY_BYTES='7MB'"),
        (["TMM_HANDSHAKE_TIMEOUT=-1"], ["serve"], "TMM_HANDSHAKE_TIMEOUT='-1' is not a duration"),
        (["TMM_IDLE_TIMEOUT=2 minutes"], ["serve"], "TMM_IDLE_TIMEOUT='2 minutes' is not a duration"),
        (["TMM_SHUTDOWN_GRACE=nan"], ["serve"], "TMM_SHUTDOWN_GRACE='nan'"),
        (["TMM_CERT_CHECK_INTERVAL=0"], ["serve"], "TMM_CERT_CHECK_INTERVAL='0' is not a duration"),
        (["TMM_EVENT_LOOPS=0"], ["serve"], "TMM_EVENT_LOOPS='0' is not a whole number of threads, from 1 to 256"),
        (["TMM_EVENT_LOOPS=two"], ["serve"], "TMM_EVENT_LOOPS='two'"),
        (["TMM_FRESHNESS_WAIT=fast"], ["serve"], "TMM_FRESHNESS_WAIT='fast'"),
        (["TMM_FRESHNESS_QUIET=1ms"], ["serve"], "TMM_FRESHNESS_QUIET='1ms' is not a duration: seconds (10, 0.5) or a Go duration (10s, 1m30s, 500ms), at least"),
        (["TMM_FRESHNESS_QUIET=2s"], ["serve"], "TMM_FRESHNESS_QUIET='2s' is not shorter than the freshness wait (1000 ms)"),
        ([], ["serve", "--freshness-wait", "300ms", "--freshness-quiet", "300ms"], "--freshness-quiet='300ms' is not shorter than the freshness wait (300 ms)"),
        (["TMM_ANNOTATION_GRACE=10d"], ["serve"], "TMM_ANNOTATION_GRACE='10d'"),
        (["TMM_LISTEN=8443"], ["serve"], "TMM_LISTEN='8443' is not HOST:PORT"),
        (["TMM_LISTEN=0.0.0.0:99999"], ["serve"], "TMM_LISTEN='0.0.0.0:99999'"),
        (["TMM_LOG_LEVEL=loud"], ["serve"], "TMM_LOG_LEVEL='loud' is not one of trace, debug, info"),
        (["TMM_LOG_FORMAT=yaml"], ["serve"], "TMM_LOG_FORMAT='yaml' is not one of text, json"),
        (["TMM_STATE=a.json,,b.json"], ["serve"], "TMM_STATE='a.json,,b.json'"),
        (["TMM_STATE=a.json,"], ["check", "n1"], "TMM_STATE='a.json,'"),
        ([], ["serve", "--max-header-bytes", "abc"], "--max-header-bytes='abc' is not a whole number of bytes"),
        ([], ["serve", "--idle-timeout", "5x"], "--idle-timeout='5x' is not a duration"),
        ([], ["serve", "--event-loops=-3"], "--event-loops='-3'"),
        ([], ["serve", "--listen", "localhost"], "--listen='localhost' is not HOST:PORT"),
        ([], ["serve", "--log-level", "chatty"], "--log-level='chatty'"),
        // The flag wins over its variable, but a bad flag is still refused when the variable is good.
        (["TMM_MAX_HEADER_BYTES=4096"], ["serve", "--max-header-bytes", "0"], "--max-header-bytes='0'"),
    ] as [([String], [String], String)])
    func badValuesStopTheProgramNamingTheirOrigin(environment: [String], arguments: [String], message: String) throws {
        let result = try run(["-u", "KUBECONFIG", "KUBERNETES_SERVICE_HOST=", "HOME=/nonexistent"] + environment + [try webhookExecutable()] + arguments, timeout: 20)
        #expect(result.status == 2, "\(result.output)")
        #expect(result.output.contains(message), "\(result.output)")
        #expect(result.output.hasPrefix("tmm-webhook: "), "\(result.output)")
        // Refused before anything started: no certificate made, nothing listened.
        #expect(!result.output.contains("listening"), "\(result.output)")
    }

    @Test func theFlagWinsOverABadVariable() throws {
        let result = try run(
            ["TMM_STATE=,,", try webhookExecutable(), "check", "worker-1", "--state", packageRoot + "/samples/cluster.json"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.hasPrefix("ALLOWED worker-1"), "\(result.output)")
    }

    /// Starts `serve --state samples/cluster.json` on a free port with `environment`, in a fresh
    /// directory (its development CA in `certs/`), until /readyz answers.
    static func serve(environment: [String: String]) throws -> (Process, port: Int, ca: String) {
        let work = try temporaryDirectory()
        let port = try freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try webhookExecutable())
        process.arguments = ["serve", "--state", packageRoot + "/samples/cluster.json", "--log-level", "error"]
        var env = ProcessInfo.processInfo.environment
        env["TMM_LISTEN"] = "127.0.0.1:\(port)"
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.currentDirectoryURL = URL(fileURLWithPath: work)
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let ca = work + "/certs/ca.crt"
        var ready = false
        // A server that exited is not waited for: the wait ends, and the failure below says so.
        try waitUntil(timeout: 20, interval: 0.1) {
            ready = try run(["curl", "-s", "--cacert", ca, "https://localhost:\(port)/readyz"]).output == "ok\n"
            return ready || !process.isRunning
        }
        try #require(ready, "serve did not become ready")
        return (process, port, ca)
    }

    @Test func goodVariablesTakeEffect() throws {
        let (process, port, ca) = try Self.serve(environment: ["TMM_MAX_HEADER_BYTES": "2048"])
        defer { process.terminate() }
        let big = String(repeating: "x", count: 3000)
        let answer = try run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca, "-H", "X-Big: \(big)", "https://localhost:\(port)/healthz"])
        #expect(answer.output == "431")
        let small = try run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca, "-H", "X-Small: \(String(big.prefix(900)))", "https://localhost:\(port)/healthz"])
        #expect(small.output == "200")
    }

    @Test func everyMetricHasHelpAndType() throws {
        guard require(tool: "curl") else { return }
        let (process, port, ca) = try Self.serve(environment: [:])
        defer { process.terminate() }
        // Touch every kind of series: a decision, an allowed update, an error, an unknown path.
        for sample in ["enter-denied.json", "label.json", "malformed.json"] {
            _ = try run([
                "curl", "-s", "--cacert", ca, "-H", "Content-Type: application/json", "--data-binary",
                "@" + packageRoot + "/samples/\(sample)", "https://localhost:\(port)/validate",
            ])
        }
        _ = try run(["curl", "-s", "--cacert", ca, "https://localhost:\(port)/nowhere"])
        let scrape = try run(["curl", "-s", "-f", "--cacert", ca, "https://localhost:\(port)/metrics"])
        #expect(scrape.status == 0)
        let lines = scrape.output.split(separator: "\n").map(String.init)
        var help: [String: String] = [:]
        var type: [String: String] = [:]
        var families = Set<String>()
        for line in lines {
            if line.hasPrefix("# HELP ") {
                let rest = line.dropFirst("# HELP ".count)
                let name = String(rest.prefix { $0 != " " })
                #expect(help[name] == nil, "two HELP lines for \(name)")
                help[name] = String(rest.dropFirst(name.count + 1))
            } else if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                type[String(parts[2])] = String(parts[3])
            } else if !line.isEmpty && !line.hasPrefix("#") {
                var name = String(line.prefix { $0 != "{" && $0 != " " })
                if type[name] == nil {
                    for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) { name = String(name.dropLast(suffix.count)) }
                }
                families.insert(name)
            }
        }
        for expected in [
            "tmm_webhook_http_requests_total", "tmm_webhook_http_request_duration_seconds", "tmm_webhook_http_requests_in_flight",
            "tmm_webhook_http_connections", "tmm_webhook_decisions_total", "tmm_webhook_certificate_expiry_timestamp_seconds",
            "tmm_webhook_tls_handshake_failures_total",
        ] {
            #expect(families.contains(expected), "\(expected) missing from\n\(scrape.output)")
        }
        for family in families {
            #expect(!(help[family] ?? "").isEmpty, "\(family) has no # HELP line")
            #expect(type[family] != nil, "\(family) has no # TYPE line")
        }
        #expect(type["tmm_webhook_http_request_duration_seconds"] == "histogram")
        #expect(type["tmm_webhook_decisions_total"] == "counter")
        #expect(type["tmm_webhook_http_connections"] == "gauge")
        #expect(scrape.output.contains(#"tmm_webhook_decisions_total{transition="enter",result="denied",reason="TooManyExistingFailures"} 1"#), "\(scrape.output)")
    }
}
