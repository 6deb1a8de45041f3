/// One `topologySpreadConstraints[]` entry of a pod. Only `whenUnsatisfiable: DoNotSchedule` filters
/// nodes; `ScheduleAnyway` is a score and is kept only to be ignored.
public struct TopologySpreadConstraint: Sendable, Hashable {
    /// The most the matching pods of two eligible domains may differ.
    public var maxSkew: Int
    /// The node label whose values are the domains.
    public var topologyKey: String
    /// True for `DoNotSchedule`.
    public var doNotSchedule: Bool
    /// The pods counted; `nil` counts none. `matchLabelKeys` is already folded in.
    public var labelSelector: LabelSelector?
    /// With fewer eligible domains than this, the global minimum is taken as 0.
    public var minDomains: Int?
    /// `nodeAffinityPolicy: Honor` (the default): only nodes matching the pod's nodeSelector and
    /// required node affinity make domains and count pods.
    public var honorNodeAffinity: Bool
    /// `nodeTaintsPolicy: Honor` (default `Ignore`): only nodes whose taints the pod tolerates count.
    public var honorTaints: Bool

    /// Creates a constraint.
    public init(
        maxSkew: Int, topologyKey: String, doNotSchedule: Bool = true, labelSelector: LabelSelector?,
        minDomains: Int? = nil, honorNodeAffinity: Bool = true, honorTaints: Bool = false
    ) {
        self.maxSkew = maxSkew
        self.topologyKey = topologyKey
        self.doNotSchedule = doNotSchedule
        self.labelSelector = labelSelector
        self.minDomains = minDomains
        self.honorNodeAffinity = honorNodeAffinity
        self.honorTaints = honorTaints
    }
}
