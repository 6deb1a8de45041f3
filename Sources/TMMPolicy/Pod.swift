/// The facts about a Pod that the policy reads. A transient value: ``ClusterState`` stores it compactly.
public struct Pod: Sendable, Hashable {
    /// `status.phase`.
    public enum Phase: String, Sendable, Hashable {
        case pending = "Pending", running = "Running", succeeded = "Succeeded", failed = "Failed", unknown = "Unknown"
    }

    /// `metadata.namespace`.
    public var namespace: String
    /// `metadata.name`.
    public var name: String
    /// `spec.nodeName`; `nil` while unscheduled.
    public var nodeName: String?
    /// `metadata.labels`.
    public var labels: [String: String]
    /// The annotations kept by the state (see ``ClusterState/keptAnnotationKeys``).
    public var annotations: [String: String]
    /// `status.phase`.
    public var phase: Phase
    /// The `Ready` condition is `True`.
    public var ready: Bool
    /// Effective requests as the scheduler counts them (containers, init containers, overhead); `pods` is 1.
    public var requests: Resources
    /// Owned by a DaemonSet (controller owner reference).
    public var daemonSetOwned: Bool
    /// A static pod's mirror (annotation `kubernetes.io/config.mirror`).
    public var mirror: Bool
    /// `spec.tolerations`.
    public var tolerations: [Toleration]
    /// `spec.nodeSelector`.
    public var nodeSelector: [String: String]
    /// `requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms`; empty means no constraint.
    public var requiredNodeAffinity: [NodeSelectorTerm]
    /// Extended resources requested (`nvidia.com/gpu`, `hugepages-2Mi`, …), by name, as the scheduler counts them.
    public var extendedRequests: [String: Int64]
    /// The host ports of its containers (and sidecar init containers).
    public var hostPorts: [HostPort]
    /// Required `podAffinity` terms.
    public var podAffinity: [PodAffinityTerm]
    /// Required `podAntiAffinity` terms.
    public var podAntiAffinity: [PodAffinityTerm]
    /// `spec.topologySpreadConstraints`.
    public var topologySpread: [TopologySpreadConstraint]
    /// The PersistentVolumeClaims its volumes use (generic ephemeral volumes included, by their claim's name).
    public var claims: [String]

    /// Creates a pod.
    public init(
        namespace: String, name: String, nodeName: String?, labels: [String: String] = [:],
        annotations: [String: String] = [:], phase: Phase = .running, ready: Bool = true,
        requests: Resources = Resources(pods: 1), daemonSetOwned: Bool = false, mirror: Bool = false,
        tolerations: [Toleration] = [], nodeSelector: [String: String] = [:],
        requiredNodeAffinity: [NodeSelectorTerm] = [], extendedRequests: [String: Int64] = [:], hostPorts: [HostPort] = [],
        podAffinity: [PodAffinityTerm] = [], podAntiAffinity: [PodAffinityTerm] = [],
        topologySpread: [TopologySpreadConstraint] = [], claims: [String] = []
    ) {
        self.namespace = namespace
        self.name = name
        self.nodeName = nodeName
        self.labels = labels
        self.annotations = annotations
        self.phase = phase
        self.ready = ready
        self.requests = requests
        self.daemonSetOwned = daemonSetOwned
        self.mirror = mirror
        self.tolerations = tolerations
        self.nodeSelector = nodeSelector
        self.requiredNodeAffinity = requiredNodeAffinity
        self.extendedRequests = extendedRequests
        self.hostPorts = hostPorts
        self.podAffinity = podAffinity
        self.podAntiAffinity = podAntiAffinity
        self.topologySpread = topologySpread
        self.claims = claims
    }

    /// Succeeded or Failed: holds no resources and counts for no budget.
    public var isTerminal: Bool { phase == .succeeded || phase == .failed }
}
