import Glibc
import TMMTransport

/// Writes a CA and a serving certificate made with `CertificateGenerator`: `ca.crt`, `ca.key`, `tls.crt`,
/// `tls.key` (keys mode 0600). Used by `tmm-webhook certs` and the quick start.
public enum DevelopmentCertificates {
    /// Writes the files and returns the base64 `caBundle` for the webhook configuration.
    @discardableResult
    public static func write(directory: String, dnsNames: [String], ipAddresses: [String], validityDays: Int = 365) throws -> String {
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw WebhookServer.StartupError("cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        let ca = try CertificateGenerator.makeCA(commonName: "tmm-webhook CA", validityDays: max(validityDays, 3650))
        let serving = try CertificateGenerator.makeServing(
            ca: ca, dnsNames: dnsNames, ipAddresses: ipAddresses, validityDays: validityDays)
        try writeFile("\(directory)/ca.crt", ca.certificatePEM, mode: 0o644)
        try writeFile("\(directory)/ca.key", ca.privateKeyPEM, mode: 0o600)
        try writeFile("\(directory)/tls.key", serving.privateKeyPEM, mode: 0o600)
        try writeFile("\(directory)/tls.crt", serving.certificatePEM, mode: 0o644)
        return CertificateGenerator.base64(ca.certificatePEM)
    }

    /// Writes atomically (temporary file, then rename), so a reloader never sees half a file.
    static func writeFile(_ path: String, _ bytes: [UInt8], mode: mode_t) throws {
        let temporary = "\(path).tmp.\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw WebhookServer.StartupError("cannot write \(path): \(String(cString: strerror(errno)))") }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                close(fd)
                throw WebhookServer.StartupError("cannot write \(path): \(String(cString: strerror(errno)))")
            }
            offset += n
        }
        fchmod(fd, mode)
        close(fd)
        guard rename(temporary, path) == 0 else {
            throw WebhookServer.StartupError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}
