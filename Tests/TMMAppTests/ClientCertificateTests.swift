import Foundation
import Testing
import TMMTestSupport

/// `serve --client-ca`: only callers with a certificate from that CA get a decision from `/validate`;
/// the probes stay open. Run as the built binary, called with curl.
@Suite struct ClientCertificateTests {
    @Test func validateRequiresTheClientCertificateAndProbesDoNot() throws {
        guard require(tool: "curl") else { return }
        let serving = try TestCertificates()
        let callers = try TestCertificates()
        let (cert, key) = try callers.clientCertificate(name: "kube-apiserver")
        let port = try freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try webhookExecutable())
        process.arguments = [
            "serve", "--listen", "127.0.0.1:\(port)", "--tls-cert", serving.certPath, "--tls-key", serving.keyPath,
            "--client-ca", callers.caPath, "--state", packageRoot + "/samples/cluster.json", "--log-level", "critical",
        ]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        defer {
            process.terminate()
            if !waitForExit(process, timeout: 10) {
                Issue.record("still running 10 s after SIGTERM")
                kill(process.processIdentifier, SIGKILL)
            }
        }
        let base = "https://127.0.0.1:\(port)"
        let ready = waitUntil(timeout: 20, interval: 0.05) {
            (try? run(["curl", "-sS", "--cacert", serving.caPath, base + "/readyz"]).output) == "ok\n"
        }
        #expect(ready, "the probe answers without a client certificate")
        let review = ["-H", "Content-Type: application/json", "--data-binary", "@" + packageRoot + "/samples/label.json", base + "/validate"]
        let anonymous = try run(["curl", "-sS", "-w", "\n%{http_code}", "--cacert", serving.caPath] + review)
        #expect(anonymous.output.hasSuffix("\n403"), "\(anonymous.output)")
        #expect(anonymous.output.contains("client certificate"), "the error says what is missing: \(anonymous.output)")
        let authenticated = try run(["curl", "-sS", "-w", "\n%{http_code}", "--cacert", serving.caPath, "--cert", cert, "--key", key] + review)
        #expect(authenticated.output.hasSuffix("\n200") && authenticated.output.contains("\"allowed\":true"), "\(authenticated.output)")
        // A certificate from another CA never gets a TLS connection.
        let stranger = try TestCertificates().clientCertificate(name: "stranger")
        let wrong = try run(["curl", "-sS", "--cacert", serving.caPath, "--cert", stranger.cert, "--key", stranger.key] + review)
        #expect(wrong.status != 0, "\(wrong.output)")
    }
}
