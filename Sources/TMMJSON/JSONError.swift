/// Why a JSON text could not be read, and where.
public struct JSONError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure; compare errors by code.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: Hashable { case syntax, depth, trailing, empty, type }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        /// The text is not valid JSON.
        public static let syntax = Code(.syntax)
        /// Nesting deeper than the reader allows.
        public static let depth = Code(.depth)
        /// Something other than whitespace after the document.
        public static let trailing = Code(.trailing)
        /// No document at all.
        public static let empty = Code(.empty)
        /// Valid JSON, but a value is not of the expected type.
        public static let type = Code(.type)
        public var description: String { "\(base)" }
    }

    public var code: Code
    /// Byte offset into the input where the problem was found.
    public var offset: Int
    public var message: String

    public init(_ code: Code, at offset: Int, _ message: String) {
        self.code = code
        self.offset = offset
        self.message = message
    }

    public var description: String { "\(message) at byte \(offset)" }

    public static func == (a: JSONError, b: JSONError) -> Bool { a.code == b.code }
}
