import Foundation
import Logging
import Synchronization
import Testing
import TMMTestSupport
import TMMTransport

/// Answers `/slow` after a second (or `?seconds=N`) from another thread, `/echo` with the body length,
/// everything else "ok". The slow answer's delay is the behaviour under test (a request still in flight).
struct TestHandler: HTTPHandler {
    func handle(_ request: HTTPRequest, responder: HTTPResponder) {
        switch request.path {
        case "/slow":
            let delay = Double(request.query.first { $0.name == "seconds" }?.value ?? "1") ?? 1
            DispatchQueue.global().asyncAfter(deadline: .now() + delay) { responder.respond(.text(200, "slow done")) }
        case "/echo":
            responder.respond(.text(200, "got \(request.body.count) bytes"))
        default:
            responder.respond(.text(200, "ok"))
        }
    }
}

/// Counts what the server started and finished, so tests wait for it instead of sleeping.
final class TestObserver: HTTPServerObserver {
    let started = Atomic<Int>(0)
    let open = Atomic<Int>(0)
    func requestStarted(path: Substring) { started.add(1, ordering: .relaxed) }
    func connectionsChanged(by delta: Int) { open.add(delta, ordering: .relaxed) }
}

/// A server on 127.0.0.1 with an ephemeral port, shut down by `stop()`.
final class TestServer: @unchecked Sendable {
    let server: HTTPServer
    let observer = TestObserver()
    let certificates: TestCertificates
    var port: Int { server.port }

    init(
        certificates: TestCertificates? = nil, clientCA: Bool = false, handler: any HTTPHandler = TestHandler(),
        host: String = "127.0.0.1", configure: (inout HTTPServerConfiguration) -> Void = { _ in }
    ) throws {
        // As in the server process: a peer that vanished is an error return, not a signal.
        signal(SIGPIPE, SIG_IGN)
        self.certificates = try certificates ?? TestCertificates()
        var configuration = HTTPServerConfiguration(host: host, port: 0)
        configuration.eventLoopCount = 2
        configure(&configuration)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        server = try HTTPServer(
            configuration: configuration, tls: TLSContextSource(try self.certificates.serverContext(clientCA: clientCA)),
            handler: handler, observer: observer, logger: logger)
        server.start()
    }

    func stop() { server.shutdown() }

    /// A connected HTTP client over TLS.
    func client(timeout: Double = 5) throws -> HTTPClientConnection {
        let connection = try TLSClientConnection(
            host: "127.0.0.1", port: port, context: try certificates.clientContext(), deadline: deadline(timeout))
        return HTTPClientConnection(connection)
    }
}
