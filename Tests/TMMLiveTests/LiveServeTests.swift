import TMMTestSupport
import Foundation
import Testing
import TMMJSON
import TMMTransport

/// `tmm-webhook serve --kubeconfig FILE` as a process against the fake API server.
@Suite(.serialized) struct LiveServeTests {
    @Test func servesFromTheLiveClusterOnceSynced() throws {
        let fake = try FakeAPIServer()
        defer { fake.stop() }
        fake.api.setWatchScript([.pause(milliseconds: 60_000)])
        let dir = try temporaryDirectory()
        try write(
            fake.kubeconfig(
                users: "- {name: admin, user: {token: good-token}}",
                contexts: "- {name: fake, context: {cluster: fake, user: admin, namespace: tmm-system}}", current: "fake"),
            to: dir + "/kubeconfig")
        let serving = try TestCertificates()
        let exe = try webhookExecutable()
        let port = 20000 + Int.random(in: 0..<20000)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: exe)
        process.arguments = [
            "serve", "--listen", "127.0.0.1:\(port)", "--tls-cert", serving.certPath, "--tls-key", serving.keyPath,
            "--kubeconfig", dir + "/kubeconfig", "--log-level", "critical",
        ]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        func call(_ method: String, _ path: String, body: String? = nil) -> (Int, String)? {
            guard let c = try? TLSClientConnection(host: "127.0.0.1", port: port, context: try serving.clientContext(), deadline: deadline(2))
            else { return nil }
            let client = HTTPClientConnection(c)
            try? client.send(
                method: method, target: path, host: "x", headers: body == nil ? [] : [("Content-Type", "application/json")],
                body: Array((body ?? "").utf8), deadline: deadline(6))
            guard let response = try? client.readResponse(deadline: deadline(6)) else { return nil }
            return (response.status, response.bodyText)
        }
        let ready = waitUntil(timeout: 20, interval: 0.1) { call("GET", "/readyz")?.0 == 200 }
        #expect(ready, "not ready after the first sync")
        #expect(fake.api.requests.contains { $0.target.hasPrefix("/api/v1/nodes?limit=") })
        let entry = #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"e1","kind":{"group":"","version":"v1","kind":"Node"},"operation":"UPDATE","name":"n2","object":{"spec":{"taints":[{"key":"drain","value":"planned-downtime","effect":"NoSchedule"}]}},"oldObject":{"spec":{}}}}"#
        let answer = try #require(call("POST", "/validate?timeout=5s", body: entry))
        let json = try JSON.parse(answer.1)
        #expect(json["response"]?["allowed"]?.bool == true, "\(answer.1)")
        #expect(fake.api.object("/apis/coordination.k8s.io/v1/namespaces/tmm-system/leases/tmm-webhook-entries") != nil)
        let metrics = call("GET", "/metrics")?.1 ?? ""
        #expect(metrics.contains(#"tmm_webhook_cache_synced{resource="pods"} 1"#), "\(metrics)")
        kill(process.processIdentifier, SIGTERM)
        try #require(waitForExit(process, timeout: 10), "still running 10 s after SIGTERM")
        #expect(process.terminationStatus == 0)
    }
}
