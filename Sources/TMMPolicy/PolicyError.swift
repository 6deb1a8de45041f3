/// Why a policy file, a selector, a quantity or a state file could not be used.
///
/// Errors compare equal on their ``code``. A configuration error names the key and the line.
public struct PolicyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure; compare errors by code.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: Hashable { case config, selector, quantity, state }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        /// The policy YAML has an unknown key, a bad value, or is not YAML.
        public static let config = Code(.config)
        /// A label selector could not be parsed.
        public static let selector = Code(.selector)
        /// A resource quantity could not be parsed.
        public static let quantity = Code(.quantity)
        /// A cluster state document could not be read.
        public static let state = Code(.state)
        public var description: String { "\(base)" }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What went wrong and what to do about it.
    public var message: String
    /// The configuration key concerned, when there is one (dotted path, e.g. `checks.quorum`).
    public var key: String?
    /// The 1-based line in the input, when known.
    public var line: Int?

    /// Creates an error.
    public init(_ code: Code, _ message: String, key: String? = nil, line: Int? = nil) {
        self.code = code
        self.message = message
        self.key = key
        self.line = line
    }

    public var description: String {
        var prefix = ""
        if let line { prefix += "line \(line): " }
        if let key { prefix += "\(key): " }
        return prefix + message
    }

    public static func == (a: PolicyError, b: PolicyError) -> Bool { a.code == b.code }
}
