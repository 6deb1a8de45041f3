import Foundation
import Logging
import Testing
import TMMAdmission
import TMMApp
import TMMBase
import TMMTestSupport
import TMMTransport

/// The webhook's HTTP handler on a real TLS server on 127.0.0.1.
final class WebhookTestServer: @unchecked Sendable {
    let server: HTTPServer
    let caPath: String
    let caPEM: [UInt8]
    let readiness = Readiness()
    let metrics = WebhookMetrics()
    var port: Int { server.port }

    init(decider: any EntryDecider = UncheckedEntryDecider()) throws {
        signal(SIGPIPE, SIG_IGN)
        let dir = NSTemporaryDirectory() + "tmm-app-\(UUID().uuidString)"
        try DevelopmentCertificates.write(directory: dir, dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"])
        caPath = dir + "/ca.crt"
        caPEM = Array(try Data(contentsOf: URL(fileURLWithPath: caPath)))
        let (context, _) = try CertificateReloader.loadContext(.init(certificate: dir + "/tls.crt", key: dir + "/tls.key"))
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let metrics = self.metrics
        let handler = WebhookHandler(
            reviewer: AdmissionReviewer(decider: decider, logger: logger) { metrics.decided(transition: $0, allowed: $1, reason: $2) },
            readiness: readiness, metrics: { metrics.render() })
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.eventLoopCount = 2
        server = try HTTPServer(
            configuration: configuration, tls: TLSContextSource(context), handler: handler, observer: metrics, logger: logger)
        server.start()
        readiness.set(ready: true)
    }

    func stop() { server.shutdown() }

    func connect() throws -> TLSClientConnection {
        try TLSClientConnection(
            host: "127.0.0.1", port: port, context: try TLSContext.client(trustedCAPEM: caPEM),
            deadline: .now() + .seconds(5))
    }
}

func fixture(_ name: String) throws -> [UInt8] {
    let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil))
    return Array(try Data(contentsOf: url))
}

/// Allows every entry with a warning that nothing was checked: the transport-level tests' decider.
struct UncheckedEntryDecider: EntryDecider {
    func decide(_ entry: EntryRequest, completion: @escaping @Sendable (AdmissionDecision) -> Void) {
        completion(AdmissionDecision(allowed: true, warnings: ["test: no safety check ran"]))
    }
}
