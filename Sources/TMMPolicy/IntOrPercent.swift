/// A budget bound: an integer, or a percentage of the expected pods.
public enum IntOrPercent: Sendable, Hashable, CustomStringConvertible {
    case int(Int)
    case percent(Int)
    /// A string Kubernetes would reject; the budget then requires every expected pod.
    case invalid(String)

    /// Parses `"25%"` or `"3"` (a string form some tools write).
    public init(string: String) {
        if string.hasSuffix("%"), let p = Int(string.dropLast()), p >= 0 {
            self = .percent(p)
        } else if let n = Int(string), n >= 0 {
            self = .int(n)
        } else {
            self = .invalid(string)
        }
    }

    /// Kubernetes' `GetScaledValueFromIntOrPercent(value, total, roundUp: true)`.
    func scaled(total: Int) -> Int? {
        switch self {
        case .int(let n): return n
        case .percent(let p): return (p * total + 99) / 100
        case .invalid: return nil
        }
    }

    public var description: String {
        switch self {
        case .int(let n): return "\(n)"
        case .percent(let p): return "\(p)%"
        case .invalid(let s): return "'\(s)'"
        }
    }
}
