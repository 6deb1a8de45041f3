import Foundation
import TMMTransport

/// (As in TMMTransportTests.)
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

func deadline(_ seconds: Double) -> UInt64 { MonotonicClock.now() + UInt64(seconds * 1e9) }

/// A fresh temporary directory for configuration files.
func temporaryDirectory() throws -> String {
    let directory = NSTemporaryDirectory() + "tmm-kube-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    return directory
}

func write(_ text: String, to path: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
}

func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
