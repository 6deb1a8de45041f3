import TMMBase

/// The TLS context new connections use. The certificate reloader swaps it; connections already open
/// keep the context they started with.
public final class TLSContextSource: Sendable {
    private let box: Locked<TLSContext>

    public init(_ context: TLSContext) { box = Locked(context) }

    /// The context for the next connection.
    public var current: TLSContext { box.withLock { $0 } }

    /// Replaces the context for connections accepted from now on.
    public func replace(with context: TLSContext) { box.withLock { $0 = context } }
}
