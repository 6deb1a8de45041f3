import Foundation
import TMMBase
import TMMTestSupport

/// etcd and a real kube-apiserver on free loopback ports, in a temporary directory: certificates made
/// with the openssl CLI, a token file with an admin user (system:masters) and the webhook's
/// ServiceAccount user, and a kubeconfig for each. See ../shared/kube-apiserver/README.md.
final class ControlPlane: Sendable {
    let directory: String
    let apiserverBinary: String
    let etcdBinary: String
    let etcdClientPort: Int
    let etcdPeerPort: Int
    let apiPort: Int
    let adminToken = "tmm-admin-\(UUID().uuidString)"
    let webhookToken = "tmm-webhook-\(UUID().uuidString)"
    /// The user the webhook runs as: its ServiceAccount, so the RBAC of deploy/base bound to it applies.
    static let webhookUser = "system:serviceaccount:tmm-system:tmm-webhook"
    var caPath: String { directory + "/ca.crt" }
    var caKeyPath: String { directory + "/ca.key" }
    var adminKubeconfig: String { directory + "/admin.kubeconfig" }
    var webhookKubeconfig: String { directory + "/webhook.kubeconfig" }
    var server: String { "https://127.0.0.1:\(apiPort)" }
    private let etcd = Locked<ChildProcess?>(nil)
    private let apiserver = Locked<ChildProcess?>(nil)
    /// How many times kube-apiserver was started (its log files are numbered).
    private let starts = Locked(0)

    init(apiserverBinary: String, etcdBinary: String) throws {
        self.apiserverBinary = apiserverBinary
        self.etcdBinary = etcdBinary
        directory = try temporaryDirectory()
        etcdClientPort = try freePort()
        etcdPeerPort = try freePort()
        apiPort = try freePort()
        try makeCertificates()
        try write(
            """
            \(adminToken),tmm-test-admin,tmm-test-admin-uid,"system:masters"
            \(webhookToken),\(Self.webhookUser),5e1c7f0e-0000-4000-8000-00000000aa01,"system:serviceaccounts,system:serviceaccounts:tmm-system,system:authenticated"

            """, to: directory + "/tokens.csv")
        try write(kubeconfig(user: "tmm-test-admin", token: adminToken), to: adminKubeconfig)
        try write(kubeconfig(user: "tmm-webhook", token: webhookToken, namespace: "tmm-system"), to: webhookKubeconfig)
    }

    private func openssl(_ arguments: [String]) throws {
        let result = try execute(["openssl"] + arguments)
        guard result.succeeded else { throw HarnessError("openssl failed: \(result)") }
    }

    private func makeCertificates() throws {
        let d = directory
        try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", caKeyPath, "-out", caPath, "-days", "2", "-subj", "/CN=tmm-integration-ca"])
        try issueCertificate(name: "apiserver", commonName: "kube-apiserver")
        try openssl(["genrsa", "-out", "\(d)/sa.key", "2048"])
        try openssl(["rsa", "-in", "\(d)/sa.key", "-pubout", "-out", "\(d)/sa.pub"])
        try makeWebhookClientCertificate()
    }

    /// The CA a webhook started with `--client-ca` trusts, and the certificate kube-apiserver presents
    /// when it calls webhooks: the steps of docs/authenticating-the-api-server.md (an
    /// AdmissionConfiguration whose kubeconfig names the certificate). The kubeconfig's user is `*`, so
    /// every webhook of this test cluster gets the certificate; those without `--client-ca` ignore it.
    var webhookClientCAPath: String { directory + "/webhook-client-ca.crt" }
    var admissionConfigPath: String { directory + "/admission.yaml" }

    private func makeWebhookClientCertificate() throws {
        let d = directory
        try openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-keyout", "\(d)/webhook-client-ca.key", "-out", webhookClientCAPath, "-subj", "/CN=tmm-webhook client CA",
        ])
        try write("extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n", to: "\(d)/apiserver-webhook-client.ext")
        try openssl([
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(d)/apiserver-webhook-client.key",
            "-out", "\(d)/apiserver-webhook-client.csr", "-subj", "/CN=kube-apiserver",
        ])
        try openssl([
            "x509", "-req", "-in", "\(d)/apiserver-webhook-client.csr", "-CA", webhookClientCAPath, "-CAkey", "\(d)/webhook-client-ca.key",
            "-CAcreateserial", "-days", "2", "-out", "\(d)/apiserver-webhook-client.crt", "-extfile", "\(d)/apiserver-webhook-client.ext",
        ])
        try write(
            """
            apiVersion: v1
            kind: Config
            users:
              - name: "*"
                user:
                  client-certificate: \(d)/apiserver-webhook-client.crt
                  client-key: \(d)/apiserver-webhook-client.key

            """, to: "\(d)/webhook-client.kubeconfig")
        try write(
            """
            apiVersion: apiserver.config.k8s.io/v1
            kind: AdmissionConfiguration
            plugins:
              - name: ValidatingAdmissionWebhook
                configuration:
                  apiVersion: apiserver.config.k8s.io/v1
                  kind: WebhookAdmissionConfiguration
                  kubeConfigFile: \(d)/webhook-client.kubeconfig

            """, to: admissionConfigPath)
    }

    /// A serving certificate for 127.0.0.1 and localhost, signed by the test CA; returns (cert, key).
    @discardableResult
    func issueCertificate(name: String, commonName: String) throws -> (cert: String, key: String) {
        let d = directory
        let cert = "\(d)/\(name).crt", key = "\(d)/\(name).key", csr = "\(d)/\(name).csr", ext = "\(d)/\(name).ext"
        try write(
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
            to: ext)
        try openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=\(commonName)"])
        try openssl(["x509", "-req", "-in", csr, "-CA", caPath, "-CAkey", caKeyPath, "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext])
        return (cert, key)
    }

    private func kubeconfig(user: String, token: String, namespace: String = "default") -> String {
        """
        apiVersion: v1
        kind: Config
        clusters:
        - name: integration
          cluster:
            server: \(server)
            certificate-authority: \(caPath)
        users:
        - name: \(user)
          user:
            token: \(token)
        contexts:
        - name: integration
          context:
            cluster: integration
            user: \(user)
            namespace: \(namespace)
        current-context: integration

        """
    }

    func start() throws {
        try startEtcd()
        try startAPIServer()
    }

    private func startEtcd() throws {
        removeAtExit.withLock { $0.append(directory + "/etcd") }
        let client = "http://127.0.0.1:\(etcdClientPort)", peer = "http://127.0.0.1:\(etcdPeerPort)"
        let process = try ChildProcess(
            name: "etcd",
            arguments: [
                etcdBinary, "--data-dir", directory + "/etcd", "--name", "default",
                "--listen-client-urls", client, "--advertise-client-urls", client,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", "default=\(peer)", "--log-level", "warn",
            ],
            logPath: directory + "/etcd.log")
        etcd.withLock { $0 = process }
    }

    /// Starts kube-apiserver (again, after ``killAPIServer()``) with the same flags and data.
    func startAPIServer() throws {
        let d = directory
        let n = starts.withLock { $0 += 1; return $0 }
        let process = try ChildProcess(
            name: "kube-apiserver",
            arguments: [
                apiserverBinary, "--etcd-servers=http://127.0.0.1:\(etcdClientPort)", "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1", "--secure-port=\(apiPort)",
                "--tls-cert-file=\(d)/apiserver.crt", "--tls-private-key-file=\(d)/apiserver.key",
                "--client-ca-file=\(caPath)", "--token-auth-file=\(d)/tokens.csv",
                "--service-account-issuer=https://kubernetes.default.svc", "--service-account-key-file=\(d)/sa.pub",
                "--service-account-signing-key-file=\(d)/sa.key", "--authorization-mode=RBAC",
                "--service-cluster-ip-range=10.96.0.0/24", "--disable-admission-plugins=ServiceAccount",
                "--enable-priority-and-fairness=false", "--enable-aggregator-routing=true", "--cert-dir=\(d)/certs",
                "--admission-control-config-file=\(admissionConfigPath)",
            ],
            logPath: "\(d)/kube-apiserver-\(n).log")
        apiserver.withLock { $0 = process }
    }

    /// SIGKILL: the API server is gone at once (SIGTERM would keep watches open for up to 60 s).
    func killAPIServer() {
        apiserver.withLock { $0 }?.stop(signal: SIGKILL)
    }

    var apiServerRunning: Bool { apiserver.withLock { $0 }?.isRunning ?? false }

    /// True when /readyz answers ok (checked with curl and the admin token).
    func isReady() -> Bool {
        guard let result = try? execute(
            ["curl", "-sf", "--max-time", "2", "--cacert", caPath, "-H", "Authorization: Bearer \(adminToken)", "\(server)/readyz"],
            timeout: 5)
        else { return false }
        return result.succeeded && result.stdout.hasPrefix("ok")
    }

    /// Waits for /readyz; throws with the end of the API server's log when it does not come up.
    func waitReady(timeout: Double = 60) throws {
        let ready = waitUntil(timeout: timeout, interval: 0.1) {
            guard apiServerRunning else { return true }  // fail below, without waiting out the deadline
            return isReady()
        }
        guard ready, apiServerRunning else {
            let log = apiserver.withLock { $0 }?.tail(30) ?? ""
            let etcdLog = etcd.withLock { $0 }?.tail(10) ?? ""
            throw HarnessError("kube-apiserver is not ready after \(timeout) s; its log ends:\n\(log)\netcd log ends:\n\(etcdLog)")
        }
    }

    /// etcd's current revision (through its JSON gateway; no etcdctl needed).
    func etcdRevision() throws -> Int {
        let result = try execute(
            ["curl", "-sf", "--max-time", "5", "-X", "POST", "http://127.0.0.1:\(etcdClientPort)/v3/kv/range", "-d", #"{"key":"AA=="}"#])
        guard result.succeeded, let json = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
            let header = json["header"] as? [String: Any], let text = header["revision"] as? String, let revision = Int(text)
        else { throw HarnessError("cannot read etcd's revision: \(result)") }
        return revision
    }

    /// Compacts etcd's history up to `revision` (what `etcdctl compact --physical` does).
    func compactEtcd(revision: Int) throws {
        let result = try execute(
            ["curl", "-sf", "--max-time", "10", "-X", "POST", "http://127.0.0.1:\(etcdClientPort)/v3/kv/compaction",
             "-d", #"{"revision":"\#(revision)","physical":true}"#])
        guard result.succeeded else { throw HarnessError("etcd compaction failed: \(result)") }
    }

    func stop() {
        apiserver.withLock { $0 }?.stop(signal: SIGKILL)
        etcd.withLock { $0 }?.stop(signal: SIGTERM, grace: 5)
    }
}
