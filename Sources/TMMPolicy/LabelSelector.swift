/// A label selector: every requirement must hold. The empty selector matches everything.
///
/// Built from the kubectl string syntax (``parse(_:)``) or from the structured form of
/// `metav1.LabelSelector` (`matchLabels` + `matchExpressions`), as PodDisruptionBudgets carry it.
public struct LabelSelector: Sendable, Hashable, CustomStringConvertible {
    /// The requirements, all of which must hold.
    public var requirements: [LabelRequirement]

    /// Creates a selector from requirements.
    public init(_ requirements: [LabelRequirement] = []) { self.requirements = requirements }

    /// Creates a selector from the structured form; `matchLabels` become `In` requirements.
    public init(matchLabels: [String: String], matchExpressions: [LabelRequirement] = []) {
        requirements = matchLabels.sorted { $0.key < $1.key }.map { LabelRequirement($0.key, .in, [$0.value]) }
        requirements += matchExpressions
    }

    /// A selector that matches everything.
    public static let everything = LabelSelector()

    /// True when it has no requirement (matches every label set).
    public var isEmpty: Bool { requirements.isEmpty }

    /// True when `labels` satisfy every requirement.
    public func matches(_ labels: [String: String]) -> Bool {
        requirements.allSatisfy { $0.matches(labels) }
    }

    /// The kubectl string form.
    public var description: String { requirements.map(\.description).joined(separator: ",") }
}
