import COpenSSL

/// One OpenSSL `SSL_CTX` with its certificate generation: the settings every connection made from it shares.
///
/// Immutable after creation, so it may be used from any thread (OpenSSL reference-counts the context,
/// and each `SSL` made from it keeps it alive after the reloader swaps in a newer one).
public final class TLSContext: @unchecked Sendable {
    let pointer: OpaquePointer
    /// The serving certificate's `notAfter`, in seconds since 1970, when known.
    public let certificateNotAfter: Int64?
    /// The serving certificate's subject, for logs.
    public let certificateSubject: String

    /// The TLS 1.2 suites allowed: ECDHE key exchange with AEAD ciphers only. TLS 1.3 suites are all AEAD.
    static let tls12Ciphers = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")

    private init(pointer: OpaquePointer, notAfter: Int64?, subject: String) {
        self.pointer = pointer
        self.certificateNotAfter = notAfter
        self.certificateSubject = subject
    }

    deinit { SSL_CTX_free(pointer) }

    /// A server context from PEM bytes: a certificate (optionally followed by its chain) and its key
    /// (RSA or ECDSA). With `clientCAPEM`, a client certificate is asked for and, when presented, must chain to it.
    public static func server(
        certificateChainPEM: [UInt8],
        privateKeyPEM: [UInt8],
        clientCAPEM: [UInt8]? = nil
    ) throws(TLSError) -> TLSContext {
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(TLS_server_method()) else {
            throw TLSError(.context, "cannot create an SSL context")
        }
        var owned = true
        defer { if owned { SSL_CTX_free(ctx) } }

        try applyProtocolPolicy(ctx)

        // Certificate and chain.
        let certs = try readCertificates(certificateChainPEM, code: .certificate, what: "certificate")
        defer { certs.forEach { X509_free($0) } }
        guard SSL_CTX_use_certificate(ctx, certs[0]) == 1 else {
            throw TLSError(.certificate, "the certificate cannot be used")
        }
        for extra in certs.dropFirst() where tmm_SSL_CTX_add1_chain_cert(ctx, extra) != 1 {
            throw TLSError(.certificate, "a chain certificate cannot be used")
        }

        // Private key.
        let key = try readPrivateKey(privateKeyPEM)
        defer { EVP_PKEY_free(key) }
        guard SSL_CTX_use_PrivateKey(ctx, key) == 1 else {
            throw TLSError(.key, "the private key cannot be used")
        }
        guard SSL_CTX_check_private_key(ctx) == 1 else {
            throw TLSError(.keyMismatch, "the private key does not match the certificate")
        }

        if let clientCAPEM {
            let cas = try readCertificates(clientCAPEM, code: .clientCA, what: "client CA")
            defer { cas.forEach { X509_free($0) } }
            guard let store = SSL_CTX_get_cert_store(ctx) else { throw TLSError(.context, "no certificate store") }
            for ca in cas where X509_STORE_add_cert(store, ca) != 1 {
                throw TLSError(.clientCA, "cannot add a client CA certificate")
            }
            // Ask for a client certificate and refuse the handshake when one is presented that does not
            // verify; a client without one still connects, and the handler decides which paths need it
            // (`HTTPRequest.clientCertificateVerified`): kubelet probes present none.
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
        }

        // Sessions resume only within this context (required when client certificates are verified).
        let sid = Array("tmm-webhook".utf8)
        _ = SSL_CTX_set_session_id_context(ctx, sid, UInt32(sid.count))

        // ALPN: choose http/1.1 when offered; otherwise carry on without ALPN rather than failing.
        SSL_CTX_set_alpn_select_cb(ctx, alpnSelect, nil)

        let notAfter = X509_get0_notAfter(certs[0]).flatMap(asn1TimeToUnix)
        let subject = subjectString(certs[0])
        owned = false
        return TLSContext(pointer: ctx, notAfter: notAfter, subject: subject)
    }

    /// A client context that verifies servers against `trustedCAPEM` (or the system store when nil),
    /// optionally presenting a client certificate.
    public static func client(
        trustedCAPEM: [UInt8]?,
        clientCertificatePEM: [UInt8]? = nil,
        clientKeyPEM: [UInt8]? = nil,
        verifyPeer: Bool = true
    ) throws(TLSError) -> TLSContext {
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(TLS_client_method()) else {
            throw TLSError(.context, "cannot create an SSL context")
        }
        var owned = true
        defer { if owned { SSL_CTX_free(ctx) } }
        try applyProtocolPolicy(ctx)
        if let trustedCAPEM {
            let cas = try readCertificates(trustedCAPEM, code: .clientCA, what: "CA")
            defer { cas.forEach { X509_free($0) } }
            guard let store = SSL_CTX_get_cert_store(ctx) else { throw TLSError(.context, "no certificate store") }
            for ca in cas where X509_STORE_add_cert(store, ca) != 1 {
                throw TLSError(.clientCA, "cannot add a CA certificate")
            }
        } else {
            _ = SSL_CTX_set_default_verify_paths(ctx)
        }
        if let clientCertificatePEM, let clientKeyPEM {
            let certs = try readCertificates(clientCertificatePEM, code: .certificate, what: "client certificate")
            defer { certs.forEach { X509_free($0) } }
            guard SSL_CTX_use_certificate(ctx, certs[0]) == 1 else {
                throw TLSError(.certificate, "the client certificate cannot be used")
            }
            for extra in certs.dropFirst() { _ = tmm_SSL_CTX_add1_chain_cert(ctx, extra) }
            let key = try readPrivateKey(clientKeyPEM)
            defer { EVP_PKEY_free(key) }
            guard SSL_CTX_use_PrivateKey(ctx, key) == 1, SSL_CTX_check_private_key(ctx) == 1 else {
                throw TLSError(.keyMismatch, "the client key does not match the client certificate")
            }
        }
        SSL_CTX_set_verify(ctx, verifyPeer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nil)
        owned = false
        return TLSContext(pointer: ctx, notAfter: nil, subject: "")
    }

    /// TLS 1.2 and 1.3 only, ECDHE+AEAD for 1.2, no compression, no renegotiation.
    private static func applyProtocolPolicy(_ ctx: OpaquePointer) throws(TLSError) {
        guard tmm_SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1,
            tmm_SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) == 1
        else { throw TLSError(.context, "cannot restrict the protocol versions") }
        guard SSL_CTX_set_cipher_list(ctx, tls12Ciphers) == 1 else {
            throw TLSError(.context, "cannot set the TLS 1.2 cipher list")
        }
        // TLS 1.3: AES-128-GCM first (as Go does): as safe, and fewer AES rounds per byte than AES-256.
        guard SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256") == 1 else {
            throw TLSError(.context, "cannot set the TLS 1.3 cipher suites")
        }
        _ = tmm_SSL_CTX_set_options(
            ctx,
            tmm_SSL_OP_NO_COMPRESSION() | tmm_SSL_OP_NO_RENEGOTIATION() | tmm_SSL_OP_CIPHER_SERVER_PREFERENCE()
                | tmm_SSL_OP_IGNORE_UNEXPECTED_EOF()
        )
        // Partial writes let a non-blocking writer advance record by record; the write buffer may move
        // between retries because it is a Swift array; idle connections give their buffers back.
        _ = tmm_SSL_CTX_set_mode(
            ctx,
            tmm_SSL_MODE_ENABLE_PARTIAL_WRITE() | tmm_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER()
                | tmm_SSL_MODE_RELEASE_BUFFERS()
        )
        // Read whole TLS records (and what follows) per read(2) instead of header and body separately.
        tmm_SSL_CTX_set_read_ahead(ctx, 1)
        // Room for several records per read(2): a 20 KB AdmissionReview arrives in one or two reads.
        SSL_CTX_set_default_read_buffer_len(ctx, 64 * 1024)
    }

    /// Every certificate in a PEM bundle, in order; at least one.
    static func readCertificates(_ pem: [UInt8], code: TLSError.Code, what: String) throws(TLSError) -> [OpaquePointer] {
        guard let bio = pem.withUnsafeBytes({ BIO_new_mem_buf($0.baseAddress, Int32($0.count)) }) else {
            throw TLSError(code, "cannot read the \(what)")
        }
        defer { BIO_free(bio) }
        var certs: [OpaquePointer] = []
        while let x509 = PEM_read_bio_X509(bio, nil, nil, nil) { certs.append(x509) }
        // Reading stops with a "no start line" error at the end of the bundle; that one is expected.
        ERR_clear_error()
        guard !certs.isEmpty else {
            throw TLSError(code, "the \(what) file holds no PEM certificate", openSSLErrors: [])
        }
        return certs
    }

    static func readPrivateKey(_ pem: [UInt8]) throws(TLSError) -> OpaquePointer {
        guard let bio = pem.withUnsafeBytes({ BIO_new_mem_buf($0.baseAddress, Int32($0.count)) }) else {
            throw TLSError(.key, "cannot read the private key")
        }
        defer { BIO_free(bio) }
        guard let key = PEM_read_bio_PrivateKey(bio, nil, nil, nil) else {
            throw TLSError(.key, "the key file holds no PEM private key")
        }
        return key
    }
}

/// ALPN: select `http/1.1` when the client offers it; when it does not (say it offers only `h2`), decline
/// ALPN (NOACK) so the handshake goes on without it instead of failing.
private let alpnSelect:
    @convention(c) (
        OpaquePointer?, UnsafeMutablePointer<UnsafePointer<UInt8>?>?, UnsafeMutablePointer<UInt8>?,
        UnsafePointer<UInt8>?, UInt32, UnsafeMutableRawPointer?
    ) -> Int32 = { _, out, outLength, input, inputLength, _ in
        guard let input, let out, let outLength else { return SSL_TLSEXT_ERR_NOACK }
        var i = 0
        let n = Int(inputLength)
        while i < n {
            let length = Int(input[i])
            let start = i + 1
            if start + length > n { break }
            if length == 8 {
                let proto = UnsafeBufferPointer(start: input + start, count: 8)
                if proto.elementsEqual("http/1.1".utf8) {
                    out.pointee = input + start
                    outLength.pointee = 8
                    return SSL_TLSEXT_ERR_OK
                }
            }
            i = start + length
        }
        return SSL_TLSEXT_ERR_NOACK
    }

func asn1TimeToUnix(_ time: UnsafePointer<ASN1_TIME>) -> Int64? {
    var tm = tm()
    guard ASN1_TIME_to_tm(time, &tm) == 1 else { return nil }
    return Int64(timegm(&tm))
}

func subjectString(_ x509: OpaquePointer) -> String {
    guard let name = X509_get_subject_name(x509) else { return "" }
    var buffer = [CChar](repeating: 0, count: 512)
    guard X509_NAME_oneline(name, &buffer, Int32(buffer.count)) != nil else { return "" }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
