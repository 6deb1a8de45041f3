import COpenSSL

/// Makes an ECDSA P-256 certificate authority and serving certificates through OpenSSL's API, for
/// `tmm-webhook certs` and the developer quick start.
public enum CertificateGenerator {
    /// A certificate and its private key, PEM-encoded.
    public struct Issued: Sendable {
        public var certificatePEM: [UInt8]
        public var privateKeyPEM: [UInt8]
    }

    /// A self-signed CA certificate.
    public static func makeCA(commonName: String, validityDays: Int = 3650) throws(TLSError) -> Issued {
        let key = try newKey()
        defer { EVP_PKEY_free(key) }
        let cert = try newCertificate(subjectCN: commonName, publicKey: key, validityDays: validityDays)
        defer { X509_free(cert) }
        guard X509_set_issuer_name(cert, X509_get_subject_name(cert)) == 1 else {
            throw TLSError(.generate, "cannot set the CA issuer")
        }
        try addExtensions(
            cert, issuer: cert,
            [
                (NID_basic_constraints, "critical,CA:TRUE,pathlen:0"),
                (NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature"),
                (NID_subject_key_identifier, "hash"),
            ])
        guard X509_sign(cert, key, EVP_sha256()) > 0 else { throw TLSError(.generate, "cannot sign the CA certificate") }
        return Issued(certificatePEM: try pem(certificate: cert), privateKeyPEM: try pem(privateKey: key))
    }

    /// A serving certificate for `dnsNames` and `ipAddresses`, signed by `ca`.
    public static func makeServing(
        ca: Issued, dnsNames: [String], ipAddresses: [String], validityDays: Int = 365, commonName: String? = nil,
        extendedKeyUsage: String = "serverAuth"
    ) throws(TLSError) -> Issued {
        guard !dnsNames.isEmpty || !ipAddresses.isEmpty else {
            throw TLSError(.generate, "a serving certificate needs at least one DNS name or IP address", openSSLErrors: [])
        }
        let caCerts = try TLSContext.readCertificates(ca.certificatePEM, code: .generate, what: "CA certificate")
        defer { caCerts.forEach { X509_free($0) } }
        let caKey = try TLSContext.readPrivateKey(ca.privateKeyPEM)
        defer { EVP_PKEY_free(caKey) }

        let key = try newKey()
        defer { EVP_PKEY_free(key) }
        let cert = try newCertificate(
            subjectCN: commonName ?? dnsNames.first ?? ipAddresses[0], publicKey: key, validityDays: validityDays)
        defer { X509_free(cert) }
        guard X509_set_issuer_name(cert, X509_get_subject_name(caCerts[0])) == 1 else {
            throw TLSError(.generate, "cannot set the issuer")
        }
        let san = (dnsNames.map { "DNS:\($0)" } + ipAddresses.map { "IP:\($0)" }).joined(separator: ",")
        try addExtensions(
            cert, issuer: caCerts[0],
            [
                (NID_basic_constraints, "critical,CA:FALSE"),
                (NID_key_usage, "critical,digitalSignature,keyEncipherment"),
                (NID_ext_key_usage, extendedKeyUsage),
                (NID_subject_key_identifier, "hash"),
                (NID_authority_key_identifier, "keyid:always"),
                (NID_subject_alt_name, san),
            ])
        guard X509_sign(cert, caKey, EVP_sha256()) > 0 else { throw TLSError(.generate, "cannot sign the certificate") }
        return Issued(certificatePEM: try pem(certificate: cert), privateKeyPEM: try pem(privateKey: key))
    }

    /// Standard base64 of `bytes` (the form of a webhook's `caBundle`).
    public static func base64(_ bytes: [UInt8]) -> String {
        var out = [UInt8](repeating: 0, count: 4 * ((bytes.count + 2) / 3) + 1)
        let n = bytes.withUnsafeBufferPointer { EVP_EncodeBlock(&out, $0.baseAddress, Int32($0.count)) }
        return String(decoding: out[0..<Int(n)], as: UTF8.self)
    }

    private static func newKey() throws(TLSError) -> OpaquePointer {
        guard let key = tmm_EVP_EC_gen("P-256") else { throw TLSError(.generate, "cannot generate a P-256 key") }
        return key
    }

    private static func newCertificate(subjectCN: String, publicKey: OpaquePointer, validityDays: Int) throws(TLSError) -> OpaquePointer {
        guard let cert = X509_new() else { throw TLSError(.generate, "cannot allocate a certificate") }
        var ok = X509_set_version(cert, 2) == 1  // v3
        // A random 127-bit positive serial number.
        if let serial = BN_new() {
            ok = ok && BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1
            ok = ok && BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert)) != nil
            BN_free(serial)
        } else {
            ok = false
        }
        ok = ok && X509_gmtime_adj(X509_getm_notBefore(cert), -300) != nil
        ok = ok && X509_gmtime_adj(X509_getm_notAfter(cert), validityDays * 86400) != nil
        ok = ok && X509_set_pubkey(cert, publicKey) == 1
        if let name = X509_get_subject_name(cert) {
            ok = ok && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, subjectCN, -1, -1, 0) == 1
        } else {
            ok = false
        }
        guard ok else {
            X509_free(cert)
            throw TLSError(.generate, "cannot fill in the certificate")
        }
        return cert
    }

    private static func addExtensions(_ cert: OpaquePointer, issuer: OpaquePointer, _ extensions: [(Int32, String)]) throws(TLSError) {
        var ctx = X509V3_CTX()
        X509V3_set_ctx(&ctx, issuer, cert, nil, nil, 0)
        for (nid, value) in extensions {
            guard let ext = X509V3_EXT_conf_nid(nil, &ctx, nid, value) else {
                throw TLSError(.generate, "invalid certificate extension '\(value)'")
            }
            defer { X509_EXTENSION_free(ext) }
            guard X509_add_ext(cert, ext, -1) == 1 else { throw TLSError(.generate, "cannot add extension '\(value)'") }
        }
    }

    private static func pem(certificate: OpaquePointer) throws(TLSError) -> [UInt8] {
        guard let bio = BIO_new(BIO_s_mem()) else { throw TLSError(.generate, "cannot allocate a BIO") }
        defer { BIO_free(bio) }
        guard PEM_write_bio_X509(bio, certificate) == 1 else { throw TLSError(.generate, "cannot encode the certificate") }
        return bioContents(bio)
    }

    private static func pem(privateKey: OpaquePointer) throws(TLSError) -> [UInt8] {
        guard let bio = BIO_new(BIO_s_mem()) else { throw TLSError(.generate, "cannot allocate a BIO") }
        defer { BIO_free(bio) }
        guard PEM_write_bio_PrivateKey(bio, privateKey, nil, nil, 0, nil, nil) == 1 else {
            throw TLSError(.generate, "cannot encode the private key")
        }
        return bioContents(bio)
    }

    private static func bioContents(_ bio: OpaquePointer) -> [UInt8] {
        var data: UnsafeMutablePointer<CChar>?
        let length = tmm_BIO_get_mem_data(bio, &data)
        guard let data, length > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: data, count: length))
    }
}
