import COpenSSL
import Glibc

/// One TLS connection over a socket: owns the `SSL*` and frees it on deinit.
///
/// Works on blocking and non-blocking sockets alike; on a non-blocking one, calls report
/// `.wantRead`/`.wantWrite` and the caller retries when the socket is ready. Not thread-safe: a
/// connection belongs to one thread at a time.
final class TLSStream {
    /// What an I/O call did.
    enum Outcome: Equatable {
        /// Finished, moving this many bytes (0 for the handshake).
        case done(Int)
        /// Retry once the socket is readable.
        case wantRead
        /// Retry once the socket is writable.
        case wantWrite
        /// The peer closed the connection (cleanly or not).
        case closed
        /// A protocol or system error; the connection is unusable.
        case failed(String)
    }

    let ssl: OpaquePointer
    /// Keeps the context of this connection's certificate generation alive.
    let context: TLSContext

    init?(context: TLSContext, fd: Int32) {
        guard let ssl = SSL_new(context.pointer) else { return nil }
        self.ssl = ssl
        self.context = context
        SSL_set_fd(ssl, fd)
    }

    deinit { SSL_free(ssl) }

    func setAcceptState() { SSL_set_accept_state(ssl) }

    func setConnectState(serverName: String?) {
        SSL_set_connect_state(ssl)
        if let serverName {
            _ = tmm_SSL_set_tlsext_host_name(ssl, serverName)
        }
    }

    /// Verifies the peer's certificate names `host` (DNS name or IP address) during the handshake.
    func requireHostname(_ host: String, isIPAddress: Bool) {
        if isIPAddress {
            if let param = SSL_get0_param(ssl) { _ = X509_VERIFY_PARAM_set1_ip_asc(param, host) }
        } else {
            _ = SSL_set1_host(ssl, host)
        }
    }

    func handshake() -> Outcome {
        Self.clearErrorQueue()
        let r = SSL_do_handshake(ssl)
        if r == 1 { return .done(0) }
        return outcome(r)
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> Outcome {
        Self.clearErrorQueue()
        var n = 0
        let r = SSL_read_ex(ssl, buffer.baseAddress, buffer.count, &n)
        if r == 1 { return .done(n) }
        return outcome(r)
    }

    func write(_ buffer: UnsafeRawBufferPointer) -> Outcome {
        Self.clearErrorQueue()
        var n = 0
        let r = SSL_write_ex(ssl, buffer.baseAddress, buffer.count, &n)
        if r == 1 { return .done(n) }
        return outcome(r)
    }

    /// Empties this thread's OpenSSL error queue, so that `SSL_get_error` after the next call sees only
    /// that call's errors. Looked at first: `ERR_clear_error` resets all sixteen slots even when the
    /// queue is empty, as it is before almost every read and write.
    @inline(__always)
    static func clearErrorQueue() {
        if ERR_peek_error() != 0 { ERR_clear_error() }
    }

    /// Sends close_notify once; does not wait for the peer's.
    func shutdown() {
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
    }

    /// OpenSSL holds received bytes the socket no longer shows: decrypted ones not yet read, or records
    /// read ahead from the socket with an earlier one and not yet decrypted (which `pending` does not
    /// count). They may be less than a whole record.
    var hasBufferedInput: Bool { SSL_has_pending(ssl) == 1 }

    /// The negotiated protocol version, e.g. "TLSv1.3".
    var protocolVersion: String { String(cString: SSL_get_version(ssl)) }

    /// The ALPN protocol agreed, if any.
    var alpn: String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    /// The peer certificate's subject, e.g. `/CN=localhost`.
    var peerSubject: String? {
        guard let cert = SSL_get1_peer_certificate(ssl) else { return nil }
        defer { X509_free(cert) }
        return subjectString(cert)
    }

    /// The peer presented a certificate and it verified against the context's CA.
    var peerCertificateVerified: Bool {
        guard let cert = SSL_get1_peer_certificate(ssl) else { return false }
        X509_free(cert)
        return SSL_get_verify_result(ssl) == X509_V_OK
    }

    /// Why certificate verification failed, when it did.
    var verifyError: String? {
        let result = SSL_get_verify_result(ssl)
        guard result != X509_V_OK else { return nil }
        return String(cString: X509_verify_cert_error_string(result))
    }

    private func outcome(_ r: Int32) -> Outcome {
        let error = SSL_get_error(ssl, r)
        switch error {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        case SSL_ERROR_ZERO_RETURN: return .closed
        case SSL_ERROR_SYSCALL:
            let errors = TLSError.drainErrorQueue()
            let e = errno
            if errors.isEmpty && (e == 0 || e == ECONNRESET || e == EPIPE) { return .closed }
            return .failed(errors.isEmpty ? "socket error: \(String(cString: strerror(e)))" : errors.joined(separator: "; "))
        default:
            let errors = TLSError.drainErrorQueue()
            return .failed(errors.isEmpty ? "TLS error \(error)" : errors.joined(separator: "; "))
        }
    }
}
