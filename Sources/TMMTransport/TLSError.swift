import COpenSSL

/// A failure in the TLS layer, with every entry OpenSSL left on its error queue.
public struct TLSError: Error, Sendable, CustomStringConvertible {
    /// What kind of TLS failure this is; compare errors by code.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: Hashable, Sendable { case certificate, key, keyMismatch, clientCA, context, handshake, io, generate }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        /// The certificate file could not be read or parsed.
        public static let certificate = Code(.certificate)
        /// The private key file could not be read or parsed.
        public static let key = Code(.key)
        /// The private key does not belong to the certificate.
        public static let keyMismatch = Code(.keyMismatch)
        /// The client CA bundle could not be loaded.
        public static let clientCA = Code(.clientCA)
        /// The SSL context could not be configured.
        public static let context = Code(.context)
        /// A handshake failed.
        public static let handshake = Code(.handshake)
        /// Reading or writing a TLS connection failed.
        public static let io = Code(.io)
        /// Generating a key or certificate failed.
        public static let generate = Code(.generate)
        public var description: String { "\(base)" }
    }

    public var code: Code
    public var message: String
    /// OpenSSL's own error strings, oldest first.
    public var openSSLErrors: [String]

    public init(_ code: Code, _ message: String, openSSLErrors: [String] = TLSError.drainErrorQueue()) {
        self.code = code
        self.message = message
        self.openSSLErrors = openSSLErrors
    }

    public var description: String {
        openSSLErrors.isEmpty ? message : "\(message) (\(openSSLErrors.joined(separator: "; ")))"
    }

    /// Empties OpenSSL's per-thread error queue into strings.
    public static func drainErrorQueue() -> [String] {
        var errors: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            errors.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return errors
    }
}
