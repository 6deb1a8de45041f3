import TMMTestSupport
import Foundation
import Testing
import TMMAdmission
import TMMJSON
import TMMTransport

/// The AdmissionReview contract, over real TLS, with the API server's own bytes.
@Suite struct WebhookContractTests {
    /// Replays what kube-apiserver v1.21 sent, byte for byte, on one keep-alive connection (as it did).
    @Test func replaysTheAPIServersRequestsByteForByte() throws {
        let server = try WebhookTestServer()
        defer { server.stop() }
        let connection = try server.connect()
        let client = HTTPClientConnection(connection)
        for name in ["admission-request-label.http", "admission-request-enter.http", "admission-request-enter-retry.http", "admission-request-enter-dryrun.http"] {
            let raw = try fixture(name)
            try client.send(raw: raw, deadline: deadline(5))
            let response = try client.readResponse(deadline: deadline(5))
            #expect(response.status == 200, "\(name): \(response.bodyText)")
            #expect(response.header("Content-Type") == "application/json")
            let json = try JSON.parse(response.body)
            let requestJSON = try JSON.parse(Array(raw[(raw.firstIndex(of: UInt8(ascii: "{"))!)...]))
            #expect(json["apiVersion"]?.string == "admission.k8s.io/v1")
            #expect(json["kind"]?.string == "AdmissionReview")
            #expect(json["response"]?["uid"] == requestJSON["request"]?["uid"], "\(name)")
            #expect(json["response"]?["allowed"]?.bool == true)
            #expect(json["response"]?["patch"] == nil)
        }
        #expect(client.reusable)
    }

    @Test func answersV1beta1InV1beta1() throws {
        let server = try WebhookTestServer()
        defer { server.stop() }
        let client = HTTPClientConnection(try server.connect())
        let body = #"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"b1","kind":{"group":"","version":"v1","kind":"Node"},"operation":"UPDATE","name":"n1","object":{"spec":{}},"oldObject":{"spec":{}}}}"#
        try client.send(
            method: "POST", target: "/validate?timeout=5s", host: "x", headers: [("Content-Type", "application/json")],
            body: Array(body.utf8), deadline: deadline(5))
        let json = try JSON.parse(try client.readResponse(deadline: deadline(5)).body)
        #expect(json["apiVersion"]?.string == "admission.k8s.io/v1beta1")
        #expect(json["response"]?["uid"]?.string == "b1")
    }

    @Test func aRequestThatIsNotANodeUpdateIsAllowedWithAWarning() throws {
        let server = try WebhookTestServer()
        defer { server.stop() }
        let client = HTTPClientConnection(try server.connect())
        let body = #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"p1","kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","name":"x"}}"#
        try client.send(
            method: "POST", target: "/validate", host: "x", headers: [("Content-Type", "application/json")],
            body: Array(body.utf8), deadline: deadline(5))
        let json = try JSON.parse(try client.readResponse(deadline: deadline(5)).body)
        #expect(json["response"]?["allowed"]?.bool == true)
        #expect(json["response"]?["warnings"]?[0]?.string?.contains("only reviews Node UPDATE") == true)
    }

    /// Errors over curl: status, a JSON body that says what is wrong, and the server keeps serving.
    @Test(arguments: [
        (["-X", "POST", "-H", "Content-Type: text/plain", "--data", "{}"], "/validate", 415, "Content-Type must be application/json"),
        (["-X", "POST", "-H", "Content-Type: application/json", "--data", "not json"], "/validate", 400, "not valid JSON"),
        (["-X", "POST", "-H", "Content-Type: application/json", "--data", "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}"], "/validate", 400, "has no request"),
        (["-X", "POST", "-H", "Content-Type: application/json", "--data", "{}"], "/validate?timeout=banana", 400, "invalid timeout"),
        (["-X", "GET"], "/validate", 405, "method not allowed"),
        (["-X", "POST", "-H", "Content-Type: application/json", "--data", "{}"], "/elsewhere", 404, "no such endpoint"),
    ])
    func errorsOverCurl(flags: [String], path: String, status: Int, message: String) throws {
        let server = try WebhookTestServer()
        defer { server.stop() }
        let result = try run(
            ["curl", "-sS", "--cacert", server.caPath, "-w", "\n%{http_code}"] + flags + ["https://127.0.0.1:\(server.port)\(path)"])
        let lines = result.output.split(separator: "\n")
        #expect(lines.last.map(String.init) == String(status), "\(result.output)")
        #expect(result.output.contains(message), "\(result.output)")
        let ok = try run(["curl", "-sS", "--cacert", server.caPath, "https://127.0.0.1:\(server.port)/healthz"])
        #expect(ok.output == "ok\n")
    }

    @Test func metricsCountRequestsAndDecisions() throws {
        let server = try WebhookTestServer()
        defer { server.stop() }
        let client = HTTPClientConnection(try server.connect())
        for name in ["admission-request-label.http", "admission-request-enter.http"] {
            try client.send(raw: try fixture(name), deadline: deadline(5))
            _ = try client.readResponse(deadline: deadline(5))
        }
        try client.send(method: "GET", target: "/no-such-path", host: "x", deadline: deadline(5))
        _ = try client.readResponse(deadline: deadline(5))
        try client.send(method: "GET", target: "/metrics", host: "x", deadline: deadline(5))
        let response = try client.readResponse(deadline: deadline(5))
        #expect(response.status == 200)
        #expect(response.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
        let text = response.bodyText
        #expect(text.contains(#"tmm_webhook_http_requests_total{path="/validate",code="200"} 2"#), "\(text)")
        #expect(text.contains(#"tmm_webhook_http_requests_total{path="other",code="404"} 1"#))
        #expect(text.contains(#"tmm_webhook_decisions_total{transition="none",result="allowed",reason=""} 1"#))
        #expect(text.contains(#"tmm_webhook_decisions_total{transition="enter",result="allowed",reason=""} 1"#))
        #expect(text.contains(#"tmm_webhook_http_request_duration_seconds_bucket{path="/validate",le="0.0001"}"#))
        #expect(text.contains(#"tmm_webhook_http_request_duration_seconds_bucket{path="/validate",le="10.0"}"#))
        #expect(text.contains("tmm_webhook_http_requests_in_flight 1"))
        #expect(text.contains("tmm_webhook_http_connections 1"))
    }

    @Test func readinessFollowsTheServer() throws {
        let server = try WebhookTestServer()
        defer { server.stop() }
        let url = "https://127.0.0.1:\(server.port)/readyz"
        #expect(try run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", server.caPath, url]).output == "200")
        server.readiness.set(ready: false, reason: "shutting down")
        #expect(try run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", server.caPath, url]).output == "503")
    }
}

/// The built executable: quick-start certificates, serving, SIGTERM.
@Suite(.serialized) struct ExecutableTests {
    @Test func certsCommandWritesAUsableCAAndCertificate() throws {
        let dir = NSTemporaryDirectory() + "tmm-certs-\(UUID().uuidString)"
        let result = try run([try webhookExecutable(), "certs", "--out", dir, "--dns", "tmm-webhook.tmm-system.svc", "--ip", "10.0.0.1"])
        #expect(result.status == 0, "\(result.output)")
        let bundle = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let decoded = try #require(Data(base64Encoded: bundle))
        #expect(String(decoding: decoded, as: UTF8.self).hasPrefix("-----BEGIN CERTIFICATE-----"))
        let text = try run(["openssl", "x509", "-in", dir + "/tls.crt", "-noout", "-text"]).output
        #expect(text.contains("DNS:tmm-webhook.tmm-system.svc"))
        #expect(text.contains("IP Address:10.0.0.1"))
        #expect(text.contains("prime256v1") || text.contains("P-256"))
        let verify = try run(["openssl", "verify", "-CAfile", dir + "/ca.crt", dir + "/tls.crt"])
        #expect(verify.status == 0, "\(verify.output)")
        let attributes = try FileManager.default.attributesOfItem(atPath: dir + "/tls.key")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let missing = try run([try webhookExecutable(), "certs", "--out", dir])
        #expect(missing.status != 0)
        #expect(missing.output.contains("--dns"))
    }

    @Test func serveWithoutFlagsMakesADevelopmentCertificateAndStopsCleanlyOnSIGTERM() throws {
        let work = NSTemporaryDirectory() + "tmm-serve-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let port = try freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try webhookExecutable())
        process.arguments = ["serve", "--listen", "127.0.0.1:\(port)"]
        process.currentDirectoryURL = URL(fileURLWithPath: work)
        let log = try serverLog(for: process, in: work)
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        let ready = try waitUntil(timeout: 20, interval: 0.1) {
            try !process.isRunning || run(["curl", "-s", "--cacert", work + "/certs/ca.crt", "https://localhost:\(port)/readyz"]).output == "ok\n"
        }
        #expect(ready && process.isRunning, "the server did not become ready; its output: \(log())")
        #expect(FileManager.default.fileExists(atPath: work + "/certs/tls.crt"))
        kill(process.processIdentifier, SIGTERM)
        try #require(waitForExit(process, timeout: 10), "still running 10 s after SIGTERM")
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
    }

    /// The README's quick start, as written: the sample cluster and the sample requests over curl.
    @Test func quickStartSamplesGiveTheDocumentedAnswers() throws {
        let work = NSTemporaryDirectory() + "tmm-qs-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let port = try freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try webhookExecutable())
        process.arguments = ["serve", "--listen", "127.0.0.1:\(port)", "--state", packageRoot + "/samples/cluster.json"]
        process.currentDirectoryURL = URL(fileURLWithPath: work)
        let log = try serverLog(for: process, in: work)
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        let ca = work + "/certs/ca.crt"
        let ready = try waitUntil(timeout: 20, interval: 0.1) {
            try !process.isRunning || run(["curl", "-s", "--cacert", ca, "https://localhost:\(port)/readyz"]).output == "ok\n"
        }
        try #require(ready && process.isRunning, "the server did not become ready; its output: \(log())")
        func post(_ sample: String) throws -> (String, JSON?) {
            let r = try run([
                "curl", "-s", "-w", "\n%{http_code}", "--cacert", ca, "-H", "Content-Type: application/json",
                "--data-binary", "@" + packageRoot + "/samples/\(sample)", "https://localhost:\(port)/validate",
            ])
            let parts = r.output.split(separator: "\n")
            return (parts.last.map(String.init) ?? "", parts.count > 1 ? try? JSON.parse(String(parts[0])) : nil)
        }
        let (_, denied) = try post("enter-denied.json")
        #expect(denied?["response"]?["allowed"]?.bool == false)
        #expect(denied?["response"]?["status"]?["message"]?.string?.hasPrefix("TooManyExistingFailures: ") == true)
        let (_, dry) = try post("enter-dryrun.json")
        #expect(dry?["response"]?["allowed"]?.bool == false)
        let (_, allowed) = try post("enter.json")
        #expect(allowed?["response"]?["allowed"]?.bool == true)
        let (_, exit) = try post("exit.json")
        #expect(exit?["response"]?["allowed"]?.bool == true)
        let (_, label) = try post("label.json")
        #expect(label?["response"]?["allowed"]?.bool == true)
        let (status, _) = try post("malformed.json")
        #expect(status == "400")
        kill(process.processIdentifier, SIGTERM)
        try #require(waitForExit(process, timeout: 10), "still running 10 s after SIGTERM")
        #expect(process.terminationStatus == 0)
    }

    @Test(arguments: [
        (["check", "worker-1"], Int32(0), "ALLOWED worker-1"),
        (["check", "worker-3"], 1, "TooManyExistingFailures"),
        (["check", "worker-5", "--output", "json"], 1, "\"reason\":\"NotEnoughResources\""),
        (["check", "no-such-node"], 1, "GenericFailure"),
        (["check", "worker-4"], 0, "logs/loki-0 [cpu 500m, memory 1Gi] -> stays, waits for the node (local volume"),
        (["check", "worker-4", "--level", "drain"], 1, "logs/loki-0: local volume local-pv-worker-4-nvme0"),
        (["plan"], 0, "wave 1"),
        (["plan", "--level", "drain"], 0, "worker-4: NotEnoughResources"),
        (["review", "SAMPLES/enter-denied.json"], 0, "\"allowed\":false"),
        (["review", "SAMPLES/malformed.json"], 2, "has no uid"),
    ])
    func offlineCommands(arguments: [String], status: Int32, output: String) throws {
        let args = arguments.map { $0.replacingOccurrences(of: "SAMPLES", with: packageRoot + "/samples") }
        let result = try run([try webhookExecutable()] + args + ["--state", packageRoot + "/samples/cluster.json"])
        #expect(result.status == status, "\(result.output)")
        #expect(result.output.contains(output), "\(result.output)")
    }

    @Test func offlineCommandErrorsExit2() throws {
        // Without --state the live cluster is read; with no configuration at all, the error says what to give.
        let noState = try run(["-u", "KUBECONFIG", "-u", "KUBERNETES_SERVICE_HOST", "HOME=/nonexistent", try webhookExecutable(), "check", "worker-1"])
        #expect(noState.status == 2)
        #expect(noState.output.contains("--kubeconfig") && noState.output.contains("--state FILE"), "\(noState.output)")
        let badPolicy = NSTemporaryDirectory() + "tmm-policy-\(UUID().uuidString).yaml"
        try "mode: enforce\nmaxNodesInMaintenence: 2\n".write(toFile: badPolicy, atomically: true, encoding: .utf8)
        let bad = try run([try webhookExecutable(), "check", "worker-1", "--state", packageRoot + "/samples/cluster.json", "--config", badPolicy])
        #expect(bad.status == 2)
        #expect(bad.output.contains("maxNodesInMaintenence"), "\(bad.output)")
        #expect(bad.output.contains("line 2"), "\(bad.output)")
    }
}
