import TMMTestSupport
import Foundation
import Testing
import TMMJSON
import TMMTransport

/// `tmm-webhook serve --kubeconfig FILE` as a process against the fake API server.
@Suite(.serialized) struct LiveServeTests {
    /// The fake API server with quiet watches, and the webhook serving from it with `extraArguments`
    /// (its JSON log at info in `log`).
    final class Served {
        let fake: FakeAPIServer
        let serving: TestCertificates
        let port: Int
        let process = Process()
        /// The process's output so far.
        let log: () -> String

        init(extraArguments: [String] = []) throws {
            port = try freePort()
            fake = try FakeAPIServer()
            fake.api.setWatchScript([.pause(milliseconds: 60_000)])
            let dir = try temporaryDirectory()
            try write(
                fake.kubeconfig(
                    users: "- {name: admin, user: {token: good-token}}",
                    contexts: "- {name: fake, context: {cluster: fake, user: admin, namespace: tmm-system}}", current: "fake"),
                to: dir + "/kubeconfig")
            serving = try TestCertificates()
            log = try serverLog(for: process, in: dir)
            process.executableURL = URL(fileURLWithPath: try webhookExecutable())
            process.arguments = [
                "serve", "--listen", "127.0.0.1:\(port)", "--tls-cert", serving.certPath, "--tls-key", serving.keyPath,
                "--kubeconfig", dir + "/kubeconfig", "--log-level", "info", "--log-format", "json",
            ] + extraArguments
            try process.run()
        }

        func stop() {
            if process.isRunning { process.terminate() }
            fake.stop()
        }

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

        func waitReady() -> Bool { waitUntil(timeout: 20, interval: 0.1) { call("GET", "/readyz")?.0 == 200 } }

        /// Posts an entry of `node` into planned-downtime; returns whether it was allowed.
        func enter(_ node: String, uid: String) throws -> Bool? {
            let entry = #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"\#(uid)","kind":{"group":"","version":"v1","kind":"Node"},"operation":"UPDATE","name":"\#(node)","object":{"spec":{"taints":[{"key":"drain","value":"planned-downtime","effect":"NoSchedule"}]}},"oldObject":{"spec":{}}}}"#
            let answer = try #require(call("POST", "/validate?timeout=5s", body: entry))
            return try JSON.parse(answer.1)["response"]?["allowed"]?.bool
        }

        /// The `entry phases` log lines so far, as JSON.
        func entryPhases() -> [JSON] {
            return log().split(separator: "\n").compactMap { try? JSON.parse(String($0)) }.filter { $0["msg"]?.string == "entry phases" }
        }
    }

    @Test func servesFromTheLiveClusterOnceSynced() throws {
        let served = try Served()
        defer { served.stop() }
        #expect(served.waitReady(), "not ready after the first sync")
        #expect(served.fake.api.requests.contains { $0.target.hasPrefix("/api/v1/nodes?limit=") })
        #expect(try served.enter("n2", uid: "e1") == true)
        #expect(served.fake.api.object("/apis/coordination.k8s.io/v1/namespaces/tmm-system/leases/tmm-webhook-entries") != nil)
        let metrics = served.call("GET", "/metrics")?.1 ?? ""
        #expect(metrics.contains(#"tmm_webhook_cache_synced{resource="pods"} 1"#), "\(metrics)")
        kill(served.process.processIdentifier, SIGTERM)
        try #require(waitForExit(served.process, timeout: 10), "still running 10 s after SIGTERM")
        #expect(served.process.terminationStatus == 0)
    }

    /// `--freshness-quiet` sets how long an entry waits on resources that show no change since the API
    /// server's current revision. The first entry's Lease write moves that revision past everything the
    /// (quiet) watches have shown, so the second entry waits the whole quiet time: at least 400 ms here,
    /// where the default is 100 ms.
    @Test func theQuietWaitIsTheFlags() throws {
        let served = try Served(extraArguments: ["--freshness-quiet", "400ms"])
        defer { served.stop() }
        #expect(served.waitReady(), "not ready after the first sync")
        #expect(try served.enter("n2", uid: "e1") == true)
        #expect(try served.enter("n2", uid: "e2") == true)
        let views = served.entryPhases().compactMap { $0["viewMs"]?.string.flatMap(Double.init) }
        #expect(views.count == 2, "\(served.entryPhases())")
        #expect((views.last ?? 0) >= 400, "viewMs \(views)")
    }
}
