/// One requirement of a label selector or a node selector term.
public struct LabelRequirement: Sendable, Hashable, CustomStringConvertible {
    /// The operators of label selectors (`In`…`DoesNotExist`) and node selector terms (also `Gt`, `Lt`).
    public enum Operator: String, Sendable, Hashable {
        case `in` = "In", notIn = "NotIn", exists = "Exists", doesNotExist = "DoesNotExist", gt = "Gt", lt = "Lt"
    }

    /// The label key.
    public var key: String
    /// How the label is compared.
    public var `operator`: Operator
    /// The values (one integer for `Gt`/`Lt`, none for `Exists`/`DoesNotExist`).
    public var values: [String]

    /// Creates a requirement.
    public init(_ key: String, _ op: Operator, _ values: [String] = []) {
        self.key = key
        self.operator = op
        self.values = values
    }

    /// True when a label set (as `value(forKey)`) satisfies this requirement, as `labels.Requirement.Matches`.
    func matches(_ value: String?) -> Bool {
        switch `operator` {
        case .in: return value.map(values.contains) ?? false
        case .notIn: return value.map { !values.contains($0) } ?? true
        case .exists: return value != nil
        case .doesNotExist: return value == nil
        case .gt, .lt:
            guard let value, let have = Int64(value), values.count == 1, let bound = Int64(values[0]) else {
                return false
            }
            return `operator` == .gt ? have > bound : have < bound
        }
    }

    /// Matches against a label dictionary.
    public func matches(_ labels: [String: String]) -> Bool { matches(labels[key]) }

    /// The kubectl string form (`a=b`, `a in (x,y)`, `!a`, `a>3`).
    public var description: String {
        switch `operator` {
        case .in: return values.count == 1 ? "\(key)=\(values[0])" : "\(key) in (\(values.joined(separator: ",")))"
        case .notIn:
            return values.count == 1 ? "\(key)!=\(values[0])" : "\(key) notin (\(values.joined(separator: ",")))"
        case .exists: return key
        case .doesNotExist: return "!\(key)"
        case .gt: return "\(key)>\(values.first ?? "")"
        case .lt: return "\(key)<\(values.first ?? "")"
        }
    }
}
