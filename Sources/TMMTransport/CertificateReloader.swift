import Glibc
public import Logging
import TMMBase

/// Watches the certificate, key and client-CA files and swaps in a new TLS context when they change.
///
/// It re-reads the files' contents on every check rather than trusting modification times, so
/// Kubernetes' Secret volume update (a new `..data` symlink swapped in atomically) is seen like any
/// other change. A pair that fails to load leaves the previous context serving and is logged once.
public final class CertificateReloader: Sendable {
    public struct Files: Sendable, Equatable {
        public var certificate: String
        public var key: String
        public var clientCA: String?

        public init(certificate: String, key: String, clientCA: String? = nil) {
            self.certificate = certificate
            self.key = key
            self.clientCA = clientCA
        }
    }

    /// What a check found, for metrics.
    public enum Event: Sendable {
        case reloaded(TLSContext)
        case failed(String)
    }

    private let files: Files
    private let source: TLSContextSource
    private let interval: Duration
    private let logger: Logger
    private let onEvent: @Sendable (Event) -> Void
    private let state = Locked<State>(State())

    private struct State {
        var loaded: [[UInt8]] = []
        var rejected: [[UInt8]] = []
        var task: PeriodicTask?
    }

    /// Loads the files once; throws when they do not make a usable context.
    public static func loadContext(_ files: Files) throws -> (TLSContext, [[UInt8]]) {
        let contents = try readAll(files)
        let context = try TLSContext.server(
            certificateChainPEM: contents[0], privateKeyPEM: contents[1], clientCAPEM: files.clientCA == nil ? nil : contents[2])
        return (context, contents)
    }

    public init(
        files: Files, source: TLSContextSource, initialContents: [[UInt8]], interval: Duration = .seconds(5),
        logger: Logger, onEvent: @escaping @Sendable (Event) -> Void = { _ in }
    ) {
        self.files = files
        self.source = source
        self.interval = interval
        self.logger = logger
        self.onEvent = onEvent
        state.withLock { $0.loaded = initialContents }
    }

    /// Starts checking in the background.
    public func start() {
        let task = PeriodicTask(name: "tmm-certreload", interval: interval) { [self] in checkNow() }
        state.withLock { $0.task = task }
        task.start()
    }

    public func stop() {
        state.withLock { $0.task }?.stop()
    }

    /// Checks the files once; returns true when a new context was installed.
    @discardableResult
    public func checkNow() -> Bool {
        let contents: [[UInt8]]
        do {
            contents = try Self.readAll(files)
        } catch {
            // Mid-swap or briefly missing: keep serving, try again next time.
            logger.debug("certificate files not readable right now", metadata: ["error": "\(error)"])
            return false
        }
        let (same, alreadyRejected) = state.withLock { ($0.loaded == contents, $0.rejected == contents) }
        if same || alreadyRejected { return false }
        do {
            let context = try TLSContext.server(
                certificateChainPEM: contents[0], privateKeyPEM: contents[1],
                clientCAPEM: files.clientCA == nil ? nil : contents[2])
            source.replace(with: context)
            state.withLock {
                $0.loaded = contents
                $0.rejected = []
            }
            logger.info(
                "TLS certificate reloaded",
                metadata: ["subject": "\(context.certificateSubject)", "notAfter": "\(context.certificateNotAfter.map(String.init) ?? "?")"])
            onEvent(.reloaded(context))
            return true
        } catch {
            state.withLock { $0.rejected = contents }
            logger.error(
                "new TLS certificate or key is unusable; still serving the previous one",
                metadata: ["error": "\(error)", "certificate": "\(files.certificate)", "key": "\(files.key)"])
            onEvent(.failed("\(error)"))
            return false
        }
    }

    struct ReadError: Error, CustomStringConvertible {
        var description: String
    }

    static func readAll(_ files: Files) throws -> [[UInt8]] {
        var result = [try readFile(files.certificate), try readFile(files.key)]
        if let ca = files.clientCA { result.append(try readFile(ca)) }
        return result
    }
}

/// Reads a whole file (small files: certificates, keys, tokens, configuration).
public func readFile(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
        throw CertificateReloader.ReadError(description: "cannot open \(path): \(String(cString: strerror(errno)))")
    }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &chunk, chunk.count)
        if n < 0 {
            if errno == EINTR { continue }
            throw CertificateReloader.ReadError(description: "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        if n == 0 { break }
        out.append(contentsOf: chunk[0..<n])
    }
    return out
}
