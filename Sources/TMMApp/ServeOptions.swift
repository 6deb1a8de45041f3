/// Everything `tmm-webhook serve` is configured with.
public struct ServeOptions: Sendable {
    public var listen: String = "0.0.0.0:8443"
    public var tlsCertificate: String?
    public var tlsKey: String?
    public var clientCA: String?
    /// Where the development certificate goes when no TLS flags are given.
    public var developmentCertificateDirectory: String = "certs"
    public var statePaths: [String] = []
    public var configPath: String?
    public var maxHeaderBytes: Int = 64 * 1024
    public var maxBodyBytes: Int = 7 * 1024 * 1024
    /// Request-body bytes held at once across all connections (503 with Retry-After beyond).
    public var maxBufferedBytes: Int = 64 * 1024 * 1024
    public var handshakeTimeout: Duration = .seconds(10)
    public var idleTimeout: Duration = .seconds(120)
    public var shutdownGrace: Duration = .seconds(20)
    public var certificateCheckInterval: Duration = .seconds(5)
    public var eventLoops: Int?
    /// A kubeconfig file for live mode (else `KUBECONFIG`, else in-cluster when in a pod).
    public var kubeconfig: String?
    /// Our namespace (the Lease lives there) and pod name; from the downward API in a pod.
    public var namespace: String?
    public var podName: String?
    /// Freshness wait and annotation grace period (live mode).
    public var freshnessWait: Duration = .seconds(1)
    /// How long an event already on the wire is given to arrive (the freshness check's quiet wait).
    public var freshnessQuiet: Duration = .milliseconds(100)
    public var annotationGrace: Duration = .seconds(600)
    /// The ConfigMap the policy file comes from (a refused policy is reported as an Event on it).
    public var policyConfigMap: String = "tmm-webhook-policy"

    public init() {}
}
