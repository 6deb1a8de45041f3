import Foundation
import Testing
import TMMJSON
import TMMKube
import TMMTestSupport
import TMMTransport

/// Client certificates and server URLs with a path, against the fake API server.
@Suite struct KubeClientTLSTests {
    @Test func presentsTheClientCertificateFromTheKubeconfig() throws {
        let fake = try FakeAPIServer(token: nil, clientCertificates: true)
        defer { fake.stop() }
        let (certPath, keyPath) = try fake.certificates.clientCertificate(name: "tmm-webhook")
        let dir = try temporaryDirectory()
        try write(
            fake.kubeconfig(
                users: "- {name: cert, user: {client-certificate: \(certPath), client-key: \(keyPath)}}\n- {name: nocert, user: {token: abc}}",
                contexts: "- {name: cert, context: {cluster: fake, user: cert}}\n- {name: nocert, context: {cluster: fake, user: nocert}}",
                current: "cert"), to: dir + "/kubeconfig")
        let client = try KubeClient(config: try KubeConfig.fromFile(dir + "/kubeconfig"))
        #expect(try client.get("/api/v1/nodes/n1")["metadata"]?["name"]?.string == "n1")
        let anonymous = try KubeClient(config: try KubeConfig.fromFile(dir + "/kubeconfig", context: "nocert"))
        #expect(throws: KubeError.self) { _ = try anonymous.get("/api/v1/nodes/n1", deadline: deadline(3)) }
    }

    @Test func putsTheServerURLsPathBeforeEveryRequest() throws {
        let fake = try FakeAPIServer()
        defer { fake.stop() }
        let dir = try temporaryDirectory()
        try write(
            fake.kubeconfig(
                serverPath: "/k8s/clusters/c-1/", users: "- {name: u, user: {token: good-token}}",
                contexts: "- {name: c, context: {cluster: fake, user: u}}", current: "c"), to: dir + "/kubeconfig")
        let config = try KubeConfig.fromFile(dir + "/kubeconfig")
        #expect(config.pathPrefix == "/k8s/clusters/c-1")
        let client = try KubeClient(config: config)
        // The fake serves no prefix, so the call is a 404, but it went to the prefixed path.
        #expect(throws: KubeError.self) { _ = try client.get("/api/v1/nodes/n1") }
        #expect(fake.api.requests.contains { $0.target == "/k8s/clusters/c-1/api/v1/nodes/n1" })
    }
}
