import TMMTestSupport
import Foundation
import Testing
import TMMTransport

/// The TLS policy, checked with `openssl s_client` and curl against a live server.
@Suite struct TLSPolicyTests {
    @Test(arguments: [
        // (client flags, should connect, expected protocol)
        (["-tls1_3"], true, "TLSv1.3"),
        (["-tls1_2"], true, "TLSv1.2"),
        // The client is made willing to speak TLS 1.1 (security level 0), so a failure is the server's refusal.
        (["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"], false, ""),
        (["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"], false, ""),
        // TLS 1.2 without ECDHE, or without AEAD, is refused.
        (["-tls1_2", "-cipher", "AES128-GCM-SHA256"], false, ""),
        (["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA"], false, ""),
        (["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"], true, "TLSv1.2"),
    ])
    func protocolVersionsAndCiphers(flags: [String], connects: Bool, proto: String) throws {
        guard require(tool: "openssl") else { return }
        let server = try TestServer()
        defer { server.stop() }
        let result = try run(
            ["openssl", "s_client", "-ign_eof", "-connect", "127.0.0.1:\(server.port)", "-CAfile", server.certificates.caPath] + flags,
            input: Data("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
        if connects {
            #expect(result.output.contains("New, \(proto), Cipher"), "\(result.output)")
            #expect(result.output.contains("HTTP/1.1 200 OK"), "\(result.output)")
            #expect(result.output.contains("Verify return code: 0 (ok)"))
        } else {
            #expect(!result.output.contains("HTTP/1.1 200"), "\(result.output)")
            #expect(result.status != 0 || result.output.contains("alert"), "\(result.output)")
        }
    }

    @Test func alpnAnswersHTTP11AndNeverFailsOverIt() throws {
        guard require(tool: "openssl") else { return }
        let server = try TestServer()
        defer { server.stop() }
        let request = Data("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)
        let base = ["openssl", "s_client", "-ign_eof", "-connect", "127.0.0.1:\(server.port)", "-CAfile", server.certificates.caPath]
        let h11 = try run(base + ["-alpn", "h2,http/1.1"], input: request)
        #expect(h11.output.contains("ALPN protocol: http/1.1"), "\(h11.output)")
        #expect(h11.output.contains("HTTP/1.1 200 OK"))
        let h2only = try run(base + ["-alpn", "h2"], input: request)
        #expect(h2only.output.contains("No ALPN negotiated"), "\(h2only.output)")
        #expect(h2only.output.contains("HTTP/1.1 200 OK"), "\(h2only.output)")
    }

    @Test func noCompressionNoRenegotiation() throws {
        guard require(tool: "openssl") else { return }
        let server = try TestServer()
        defer { server.stop() }
        // "R" on its own line asks s_client to renegotiate (TLS 1.2); the server must refuse it.
        let result = try run(
            ["openssl", "s_client", "-connect", "127.0.0.1:\(server.port)", "-CAfile", server.certificates.caPath, "-tls1_2"],
            input: Data("R\n".utf8), timeout: 10)
        #expect(result.output.contains("Compression: NONE"), "\(result.output)")
        #expect(result.output.contains("Secure Renegotiation IS NOT supported") || result.output.contains("no renegotiation"), "\(result.output)")
    }

    @Test func rsaKeysWorkToo() throws {
        guard require(tool: "openssl") else { return }
        let dir = NSTemporaryDirectory() + "tmm-rsa-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let made = try run([
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(dir)/k.pem", "-out", "\(dir)/c.pem",
            "-days", "1", "-subj", "/CN=rsa", "-addext", "subjectAltName=IP:127.0.0.1",
        ])
        try #require(made.status == 0, "\(made.output)")
        let context = try TLSContext.server(
            certificateChainPEM: Array(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/c.pem"))),
            privateKeyPEM: Array(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/k.pem"))))
        #expect(context.certificateSubject.contains("CN=rsa"))
        // A key that does not match the certificate is refused with a clear code.
        let other = try TestCertificates()
        #expect(throws: TLSError.self) {
            _ = try TLSContext.server(
                certificateChainPEM: Array(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/c.pem"))),
                privateKeyPEM: Array(try Data(contentsOf: URL(fileURLWithPath: other.keyPath))))
        }
    }

    /// With a client CA the server asks for a certificate: one that does not verify fails the handshake;
    /// none at all connects (kubelet probes present none), and the request says whether one verified.
    @Test func aClientCAVerifiesPresentedCertificates() throws {
        guard require(tool: "curl") else { return }
        let server = try TestServer(clientCA: true)
        defer { server.stop() }
        let url = "https://127.0.0.1:\(server.port)/healthz"
        let without = try run(["curl", "-sS", "--cacert", server.certificates.caPath, url])
        #expect(without.status == 0 && without.output == "ok", "a client without a certificate connects: \(without.output)")
        let (cert, key) = try server.certificates.clientCertificate(name: "kube-apiserver")
        let with = try run(["curl", "-sS", "--cacert", server.certificates.caPath, "--cert", cert, "--key", key, url])
        #expect(with.status == 0 && with.output == "ok", "\(with.output)")
        // A certificate from another CA is refused at the handshake.
        let stranger = try TestCertificates().clientCertificate(name: "stranger")
        let wrong = try run(["curl", "-sS", "--cacert", server.certificates.caPath, "--cert", stranger.cert, "--key", stranger.key, url])
        #expect(wrong.status != 0, "\(wrong.output)")
    }

    @Test func servesIPv6AndIPv4OnADualStackSocket() throws {
        guard require(tool: "curl") else { return }
        let server = try TestServer(host: "::")
        defer { server.stop() }
        let v4 = try run(["curl", "-sS", "--cacert", server.certificates.caPath, "https://127.0.0.1:\(server.port)/healthz"])
        #expect(v4.output == "ok", "\(v4.output)")
        let v6 = try run(["curl", "-sS", "--cacert", server.certificates.caPath, "https://[::1]:\(server.port)/healthz"])
        #expect(v6.output == "ok", "\(v6.output)")
    }
}
