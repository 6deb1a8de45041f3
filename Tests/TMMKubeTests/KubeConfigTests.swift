import TMMTestSupport
import Foundation
import Testing
import TMMKube
import TMMTransport

/// kubeconfig and in-cluster resolution, as client-go does it. Pure: files only, no sockets.
@Suite struct KubeConfigTests {
    let certificates: TestCertificates
    let directory: String

    init() throws {
        certificates = try TestCertificates()
        directory = try temporaryDirectory()
    }

    func kubeconfig(cluster: String, user: String, context: String = "dev", extra: String = "") -> String {
        """
        apiVersion: v1
        kind: Config
        current-context: \(context)
        clusters:
        - name: c1
          cluster:
        \(cluster)
        contexts:
        - name: dev
          context:
            cluster: c1
            user: u1
            namespace: tmm-system
        users:
        - name: u1
          user:
        \(user)
        \(extra)
        """
    }

    @Test func tokenAndCADataAndCurrentContext() throws {
        let path = "\(directory)/config"
        try write(
            kubeconfig(
                cluster: "    server: https://10.0.0.1:6443\n    certificate-authority-data: \(base64(certificates.ca.certificatePEM))",
                user: "    token: abc123"), to: path)
        let config = try KubeConfig.fromFile(path)
        #expect(config.host == "10.0.0.1")
        #expect(config.port == 6443)
        #expect(config.token == "abc123")
        #expect(config.tokenFile == nil)
        #expect(config.certificateAuthorityPEM == certificates.ca.certificatePEM)
        #expect(config.namespace == "tmm-system")
        #expect(!config.insecureSkipTLSVerify)
        #expect(config.warnings.isEmpty)
        #expect(config.source == "kubeconfig \(path) (context dev)")
        _ = try config.makeTLSContext()
    }

    /// Relative `certificate-authority`, `tokenFile`, `client-certificate` and `client-key` resolve
    /// against the kubeconfig's own directory, not the working directory.
    @Test func relativeFilesResolveAgainstTheKubeconfigDirectory() throws {
        let client = try certificates.clientCertificate(name: "webhook")
        try FileManager.default.createDirectory(atPath: "\(directory)/sub", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: certificates.caPath, toPath: "\(directory)/sub/ca.crt")
        try FileManager.default.copyItem(atPath: client.cert, toPath: "\(directory)/sub/client.crt")
        try FileManager.default.copyItem(atPath: client.key, toPath: "\(directory)/sub/client.key")
        try write("file-token\n", to: "\(directory)/sub/token")
        try write(
            kubeconfig(
                cluster: "    server: https://api.example.com\n    certificate-authority: ca.crt\n    tls-server-name: kubernetes.default",
                user: "    tokenFile: token\n    client-certificate: client.crt\n    client-key: client.key"),
            to: "\(directory)/sub/config")
        let config = try KubeConfig.fromFile("\(directory)/sub/config")
        #expect(config.host == "api.example.com")
        #expect(config.port == 443)
        #expect(config.tlsServerName == "kubernetes.default")
        #expect(config.tokenFile == "\(directory)/sub/token")
        #expect(config.certificateAuthorityPEM == certificates.ca.certificatePEM)
        #expect(config.clientCertificatePEM == Array(try Data(contentsOf: URL(fileURLWithPath: client.cert))))
        #expect(config.clientKeyPEM == Array(try Data(contentsOf: URL(fileURLWithPath: client.key))))
        _ = try config.makeTLSContext()
    }

    @Test func clientCertificateAsData() throws {
        let client = try certificates.clientCertificate(name: "webhook")
        let cert = Array(try Data(contentsOf: URL(fileURLWithPath: client.cert)))
        let key = Array(try Data(contentsOf: URL(fileURLWithPath: client.key)))
        let path = "\(directory)/config"
        try write(
            kubeconfig(
                cluster: "    server: https://[fd00::1]:8443\n    certificate-authority-data: \(base64(certificates.ca.certificatePEM))",
                user: "    client-certificate-data: \(base64(cert))\n    client-key-data: \(base64(key))"), to: path)
        let config = try KubeConfig.fromFile(path)
        #expect(config.host == "fd00::1")
        #expect(config.port == 8443)
        #expect(config.clientCertificatePEM == cert)
        #expect(config.clientKeyPEM == key)
        #expect(config.token == nil)
        _ = try config.makeTLSContext()
    }

    @Test func insecureOnlyWhenTheFileSaysSoAndWithAWarning() throws {
        let path = "\(directory)/config"
        try write(kubeconfig(cluster: "    server: https://10.0.0.1\n    insecure-skip-tls-verify: true", user: "    token: t"), to: path)
        let config = try KubeConfig.fromFile(path)
        #expect(config.insecureSkipTLSVerify)
        #expect(config.warnings.count == 1)
        #expect(config.warnings.first?.hasPrefix("INSECURE:") == true)
        #expect(config.warnings.first?.contains("insecure-skip-tls-verify") == true)

        try write(kubeconfig(cluster: "    server: https://10.0.0.1\n    insecure-skip-tls-verify: false", user: "    token: t"), to: path)
        let secure = try KubeConfig.fromFile(path)
        #expect(!secure.insecureSkipTLSVerify)
        #expect(secure.warnings.isEmpty)
    }

    /// Each incomplete configuration names the field that is wrong.
    @Test(arguments: [
        ("current-context: \"\"\nclusters: []", "no current-context is set"),
        ("current-context: prod\ncontexts: []", "no context \"prod\""),
        ("current-context: dev\ncontexts:\n- name: dev\n  context:\n    cluster: c2\n    user: u1\nclusters:\n- name: c1\n  cluster:\n    server: https://x",
         "context \"dev\" has no cluster \"c2\""),
        ("current-context: dev\ncontexts:\n- name: dev\n  context:\n    cluster: c1\n    user: u9\nclusters:\n- name: c1\n  cluster:\n    server: https://x",
         "context \"dev\" has no user \"u9\""),
        ("current-context: dev\ncontexts:\n- name: dev\n  context:\n    cluster: c1\nclusters:\n- name: c1\n  cluster:\n    certificate-authority-data: AAAA",
         "cluster \"c1\" has no server"),
        ("current-context: dev\ncontexts:\n- name: dev\n  context:\n    cluster: c1\nclusters:\n- name: c1\n  cluster:\n    server: http://10.0.0.1",
         "cluster \"c1\": server \"http://10.0.0.1\" must be an https:// URL"),
        ("current-context: dev\ncontexts:\n- name: dev\n  context:\n    cluster: c1\nclusters:\n- name: c1\n  cluster:\n    server: https://x\n    certificate-authority: missing-ca.crt",
         "cluster \"c1\": certificate-authority"),
        ("current-context: dev\ncontexts:\n- name: dev\n  context:\n    cluster: c1\nclusters:\n- name: c1\n  cluster:\n    server: https://x\n    certificate-authority-data: '%%%'",
         "cluster \"c1\": certificate-authority-data is not base64"),
        ("current-context: dev\ncontexts:\n- name: dev\n  context:\n    cluster: c1\n    user: u1\nclusters:\n- name: c1\n  cluster:\n    server: https://x\nusers:\n- name: u1\n  user:\n    client-certificate-data: AAAA",
         "user \"u1\" has a client certificate or key but no client-key"),
        ("current-context: dev\ncontexts:\n- name: dev\n  context:\n    cluster: c1\n    user: u1\nclusters:\n- name: c1\n  cluster:\n    server: https://x\nusers:\n- name: u1\n  user:\n    tokenFile: nope",
         "user \"u1\": tokenFile"),
        ("[not, a, mapping]", "not a YAML mapping"),
    ])
    func incompleteConfigurationsNameTheField(yaml: String, expected: String) throws {
        let path = "\(directory)/config"
        try write(yaml, to: path)
        let error = try #require(throws: KubeError.self) { try KubeConfig.fromFile(path) }
        #expect(error.code == .configuration)
        #expect(error.message.hasPrefix("kubeconfig \(path): "), "\(error.message)")
        #expect(error.message.contains(expected), "\(error.message)")
    }

    @Test func theExactMessageForAMissingCluster() throws {
        let path = "\(directory)/config"
        try write(
            "current-context: dev\ncontexts:\n- name: dev\n  context:\n    cluster: c2\nclusters:\n- name: c1\n  cluster:\n    server: https://x",
            to: path)
        let error = try #require(throws: KubeError.self) { try KubeConfig.fromFile(path) }
        #expect(error.message == "kubeconfig \(path): context \"dev\" has no cluster \"c2\"")
    }

    @Test(arguments: ["exec", "auth-provider"])
    func credentialPluginsAreNotSupported(plugin: String) throws {
        let path = "\(directory)/config"
        try write(kubeconfig(cluster: "    server: https://x", user: "    \(plugin):\n      command: aws"), to: path)
        let error = try #require(throws: KubeError.self) { try KubeConfig.fromFile(path) }
        #expect(error.code == .unsupported)
        #expect(error.message.contains("user \"u1\" uses an \(plugin == "exec" ? "exec credential" : "auth-provider") plugin"))
    }

    @Test func unreadableKubeconfig() throws {
        let error = try #require(throws: KubeError.self) { try KubeConfig.fromFile("\(directory)/absent") }
        #expect(error.code == .configuration)
        #expect(error.message.hasPrefix("kubeconfig \(directory)/absent cannot be read"))
    }

    /// `--kubeconfig` beats `KUBECONFIG`, whose first path is used; in-cluster comes last.
    @Test func resolutionOrder() throws {
        try write(kubeconfig(cluster: "    server: https://one:1", user: "    token: t1"), to: "\(directory)/one")
        try write(kubeconfig(cluster: "    server: https://two:2", user: "    token: t2"), to: "\(directory)/two")
        let env = ["KUBECONFIG": "\(directory)/two:\(directory)/one", "KUBERNETES_SERVICE_HOST": "10.96.0.1"]
        #expect(try KubeConfig.load(kubeconfigPath: "\(directory)/one", environment: env).host == "one")
        #expect(try KubeConfig.load(environment: env).host == "two")
        #expect(try KubeConfig.load(environment: ["KUBECONFIG": ":\(directory)/one"]).host == "one")
        let none = try #require(throws: KubeError.self) { try KubeConfig.load(environment: [:]) }
        #expect(none.message.contains("KUBERNETES_SERVICE_HOST is not set"))
    }

    @Test func contextOverridesTheCurrentContext() throws {
        let extra = """
            - name: other-cluster
              cluster: {server: "https://other:6443"}
            """
        var yaml = kubeconfig(cluster: "    server: https://one:1", user: "    token: t1")
        yaml = yaml.replacingOccurrences(of: "clusters:\n", with: "clusters:\n" + extra + "\n")
        yaml = yaml.replacingOccurrences(
            of: "contexts:\n", with: "contexts:\n- name: other\n  context: {cluster: other-cluster, user: u1, namespace: elsewhere}\n")
        try write(yaml, to: "\(directory)/multi")
        let current = try KubeConfig.load(kubeconfigPath: "\(directory)/multi", environment: [:])
        #expect(current.host == "one")
        let other = try KubeConfig.load(kubeconfigPath: "\(directory)/multi", context: "other", environment: [:])
        #expect(other.host == "other" && other.port == 6443 && other.namespace == "elsewhere" && other.token == "t1")
        #expect(other.source.contains("(context other)"))
        let viaEnv = try KubeConfig.load(context: "other", environment: ["KUBECONFIG": "\(directory)/multi"])
        #expect(viaEnv.host == "other")
        let missing = try #require(throws: KubeError.self) {
            try KubeConfig.load(kubeconfigPath: "\(directory)/multi", context: "nope", environment: [:])
        }
        #expect(missing.message.contains("no context \"nope\""))
        // In a pod there is no kubeconfig to take a context from: say so rather than ignore the flag.
        let inPod = try #require(throws: KubeError.self) {
            try KubeConfig.load(context: "other", environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1"])
        }
        #expect(inPod.message.contains("context \"other\" needs a kubeconfig"))
    }

    @Test func inCluster() throws {
        let sa = "\(directory)/serviceaccount"
        try FileManager.default.createDirectory(atPath: sa, withIntermediateDirectories: true)
        try write("sa-token\n", to: "\(sa)/token")
        try FileManager.default.copyItem(atPath: certificates.caPath, toPath: "\(sa)/ca.crt")
        try write("tmm-system", to: "\(sa)/namespace")
        let env = ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"]
        let config = try KubeConfig.load(environment: env, serviceAccountDirectory: sa)
        #expect(config.source == "in-cluster")
        #expect(config.host == "10.96.0.1")
        #expect(config.port == 443)
        #expect(config.tokenFile == "\(sa)/token")
        #expect(config.token == nil)
        #expect(config.namespace == "tmm-system")
        #expect(config.certificateAuthorityPEM == certificates.ca.certificatePEM)

        let v6 = try KubeConfig.inCluster(environment: ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "6443"], serviceAccountDirectory: sa)
        #expect(v6.host == "fd00::1")
        #expect(v6.port == 6443)

        try FileManager.default.removeItem(atPath: "\(sa)/ca.crt")
        let error = try #require(throws: KubeError.self) { try KubeConfig.inCluster(environment: env, serviceAccountDirectory: sa) }
        #expect(error.message.hasPrefix("in-cluster configuration: the CA certificate \(sa)/ca.crt cannot be read"))
        let badPort = try #require(throws: KubeError.self) {
            try KubeConfig.inCluster(environment: ["KUBERNETES_SERVICE_HOST": "h", "KUBERNETES_SERVICE_PORT": "x"], serviceAccountDirectory: sa)
        }
        #expect(badPort.message.contains("KUBERNETES_SERVICE_PORT 'x' is not a port"))
    }
}
