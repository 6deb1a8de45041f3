import Foundation
public import TMMTransport

/// A CA and a serving certificate for 127.0.0.1/localhost, written to a fresh temporary directory.
public struct TestCertificates: Sendable {
    public let directory: String
    public let ca: CertificateGenerator.Issued
    public var caPath: String { "\(directory)/ca.crt" }
    public var certPath: String { "\(directory)/tls.crt" }
    public var keyPath: String { "\(directory)/tls.key" }

    public init(commonName: String = "localhost") throws {
        directory = try temporaryDirectory()
        ca = try CertificateGenerator.makeCA(commonName: "test CA")
        let serving = try CertificateGenerator.makeServing(
            ca: ca, dnsNames: ["localhost"], ipAddresses: ["127.0.0.1", "::1"], commonName: commonName)
        try Data(ca.certificatePEM).write(to: URL(fileURLWithPath: caPath))
        try Data(serving.certificatePEM).write(to: URL(fileURLWithPath: certPath))
        try Data(serving.privateKeyPEM).write(to: URL(fileURLWithPath: keyPath))
    }

    /// A client certificate signed by this CA.
    public func clientCertificate(name: String) throws -> (cert: String, key: String) {
        let client = try CertificateGenerator.makeServing(
            ca: ca, dnsNames: [name], ipAddresses: [], commonName: name, extendedKeyUsage: "clientAuth")
        let cert = "\(directory)/\(name).crt", key = "\(directory)/\(name).key"
        try Data(client.certificatePEM).write(to: URL(fileURLWithPath: cert))
        try Data(client.privateKeyPEM).write(to: URL(fileURLWithPath: key))
        return (cert, key)
    }

    public func serverContext(clientCA: Bool = false) throws -> TLSContext {
        try TLSContext.server(
            certificateChainPEM: Array(try Data(contentsOf: URL(fileURLWithPath: certPath))),
            privateKeyPEM: Array(try Data(contentsOf: URL(fileURLWithPath: keyPath))),
            clientCAPEM: clientCA ? ca.certificatePEM : nil)
    }

    public func clientContext() throws -> TLSContext {
        try TLSContext.client(trustedCAPEM: ca.certificatePEM)
    }
}
