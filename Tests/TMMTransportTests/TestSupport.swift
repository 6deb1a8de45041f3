import Foundation
import Logging
import Testing
import TMMTransport

/// A CA and a serving certificate for 127.0.0.1/localhost, written to a fresh temporary directory.
struct TestCertificates {
    let directory: String
    let ca: CertificateGenerator.Issued
    var caPath: String { "\(directory)/ca.crt" }
    var certPath: String { "\(directory)/tls.crt" }
    var keyPath: String { "\(directory)/tls.key" }

    init(commonName: String = "localhost") throws {
        directory = NSTemporaryDirectory() + "tmm-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        ca = try CertificateGenerator.makeCA(commonName: "test CA")
        let serving = try CertificateGenerator.makeServing(
            ca: ca, dnsNames: ["localhost"], ipAddresses: ["127.0.0.1", "::1"], commonName: commonName)
        try Data(ca.certificatePEM).write(to: URL(fileURLWithPath: caPath))
        try Data(serving.certificatePEM).write(to: URL(fileURLWithPath: certPath))
        try Data(serving.privateKeyPEM).write(to: URL(fileURLWithPath: keyPath))
    }

    /// A client certificate signed by this CA.
    func clientCertificate(name: String) throws -> (cert: String, key: String) {
        let client = try CertificateGenerator.makeServing(
            ca: ca, dnsNames: [name], ipAddresses: [], commonName: name, extendedKeyUsage: "clientAuth")
        let cert = "\(directory)/\(name).crt", key = "\(directory)/\(name).key"
        try Data(client.certificatePEM).write(to: URL(fileURLWithPath: cert))
        try Data(client.privateKeyPEM).write(to: URL(fileURLWithPath: key))
        return (cert, key)
    }

    func serverContext(clientCA: Bool = false) throws -> TLSContext {
        try TLSContext.server(
            certificateChainPEM: Array(try Data(contentsOf: URL(fileURLWithPath: certPath))),
            privateKeyPEM: Array(try Data(contentsOf: URL(fileURLWithPath: keyPath))),
            clientCAPEM: clientCA ? ca.certificatePEM : nil)
    }

    func clientContext() throws -> TLSContext {
        try TLSContext.client(trustedCAPEM: ca.certificatePEM)
    }
}

/// Answers `/slow` after a second from another thread, `/echo` with the body length, everything else "ok".
struct TestHandler: HTTPHandler {
    func handle(_ request: HTTPRequest, responder: HTTPResponder) {
        switch request.path {
        case "/slow":
            DispatchQueue.global().asyncAfter(deadline: .now() + 1) { responder.respond(.text(200, "slow done")) }
        case "/echo":
            responder.respond(.text(200, "got \(request.body.count) bytes"))
        default:
            responder.respond(.text(200, "ok"))
        }
    }
}

/// A server on 127.0.0.1 with an ephemeral port, shut down by `stop()`.
final class TestServer: @unchecked Sendable {
    let server: HTTPServer
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
            handler: handler, logger: logger)
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

func deadline(_ seconds: Double) -> UInt64 { MonotonicClock.now() + UInt64(seconds * 1e9) }

/// Runs a command, feeding `input`, and returns its exit status and combined output. Fails the test
/// with a clear message when the tool is missing.
@discardableResult
func run(_ arguments: [String], input: Data = Data(), timeout: Double = 20) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let outPipe = Pipe()
    let inPipe = Pipe()
    process.standardOutput = outPipe
    process.standardError = outPipe
    process.standardInput = inPipe
    try process.run()
    inPipe.fileHandleForWriting.write(input)
    try? inPipe.fileHandleForWriting.close()
    let collected = LockedData()
    let reader = Thread {
        let data = outPipe.fileHandleForReading.readDataToEndOfFile()
        collected.set(data)
    }
    reader.start()
    let end = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < end { usleep(10_000) }
    if process.isRunning {
        process.terminate()
        Issue.record("\(arguments.joined(separator: " ")) timed out after \(timeout) s")
    }
    process.waitUntilExit()
    while !collected.done { usleep(1000) }
    return (process.terminationStatus, String(decoding: collected.data, as: UTF8.self))
}

final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var value = Data()
    private var finished = false
    func set(_ d: Data) { lock.withLock { value = d; finished = true } }
    var data: Data { lock.withLock { value } }
    var done: Bool { lock.withLock { finished } }
}

/// True when `tool` is on PATH; records a failure naming it otherwise (CI installs every tool used).
func require(tool: String) -> Bool {
    let found = (try? run(["sh", "-c", "command -v \(tool)"]).status) == 0
    if !found { Issue.record("\(tool) is not installed; .ci/run installs it (apt-get install \(tool))") }
    return found
}
