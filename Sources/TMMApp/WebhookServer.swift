import CLinux
import Glibc
public import Logging
import TMMAdmission
import TMMTransport

/// Runs `tmm-webhook serve`: loads TLS, builds the handler, serves until SIGTERM or SIGINT, then shuts
/// down gracefully.
public enum WebhookServer {
    public struct StartupError: Error, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// Serves until a termination signal, then returns (the caller exits 0).
    public static func run(_ options: ServeOptions, logger: Logger) throws {
        // Signals: SIGPIPE is ignored (a peer that vanished is an error return, not a crash); SIGTERM and
        // SIGINT are blocked in every thread and taken synchronously by this one with sigwait. The mask
        // must be set before any thread starts, so the threads inherit it.
        signal(SIGPIPE, SIG_IGN)
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        guard let (host, port) = HTTPServerConfiguration.parseListenAddress(options.listen) else {
            throw StartupError("--listen '\(options.listen)' is not HOST:PORT (e.g. 0.0.0.0:8443 or [::]:8443)")
        }
        let files = try tlsFiles(options, logger: logger)
        let (context, contents): (TLSContext, [[UInt8]])
        do {
            (context, contents) = try CertificateReloader.loadContext(files)
        } catch {
            throw StartupError("cannot load the TLS certificate \(files.certificate) and key \(files.key): \(error)")
        }
        let source = TLSContextSource(context)
        let metrics = WebhookMetrics()
        metrics.certificateLoaded(notAfter: context.certificateNotAfter, success: true, initial: true)
        let reloader = CertificateReloader(
            files: files, source: source, initialContents: contents, interval: options.certificateCheckInterval,
            logger: logger
        ) { event in
            switch event {
            case .reloaded(let context): metrics.certificateLoaded(notAfter: context.certificateNotAfter, success: true)
            case .failed: metrics.certificateLoaded(notAfter: nil, success: false)
            }
        }

        var configuration = HTTPServerConfiguration(host: host, port: port)
        configuration.maxHeaderBytes = options.maxHeaderBytes
        configuration.maxBodyBytes = options.maxBodyBytes
        configuration.maxBufferedBytes = options.maxBufferedBytes
        configuration.handshakeTimeout = options.handshakeTimeout
        configuration.headerTimeout = options.handshakeTimeout
        configuration.idleTimeout = options.idleTimeout
        configuration.shutdownGracePeriod = options.shutdownGrace
        if let loops = options.eventLoops { configuration.eventLoopCount = loops }

        let readiness = Readiness()
        let app = try Application.make(options: options, readiness: readiness, metrics: metrics, logger: logger)
        let handler = WebhookHandler(
            reviewer: app.reviewer, readiness: readiness, metrics: { metrics.render() }, requireClientCertificate: options.clientCA != nil)
        let server: HTTPServer
        do {
            server = try HTTPServer(
                configuration: configuration, tls: source, handler: handler, observer: metrics, logger: logger)
        } catch {
            throw StartupError("\(error)")
        }
        readiness.set(ready: app.readyAtStart, reason: app.readyAtStart ? "" : "waiting for the first sync of the cluster cache")
        server.start()
        reloader.start()
        app.start(readiness: readiness)
        logger.info(
            "serving",
            metadata: [
                "listen": "\(host):\(server.port)", "certificate": "\(files.certificate)",
                "subject": "\(context.certificateSubject)", "clientCA": "\(files.clientCA ?? "none")",
                "state": "\(app.stateDescription)",
            ])

        var received: Int32 = 0
        sigwait(&signals, &received)
        logger.info(
            "shutting down: not ready, listener closing, in-flight requests finishing",
            metadata: ["signal": "\(received == SIGTERM ? "SIGTERM" : "SIGINT")", "grace": "\(options.shutdownGrace)"])
        readiness.set(ready: false, reason: "shutting down")
        server.shutdown()
        reloader.stop()
        app.stop()
        logger.info("stopped")
    }

    /// The certificate files to serve: the flags, or a development certificate under `certs/`.
    static func tlsFiles(_ options: ServeOptions, logger: Logger) throws -> CertificateReloader.Files {
        switch (options.tlsCertificate, options.tlsKey) {
        case (let cert?, let key?):
            return .init(certificate: cert, key: key, clientCA: options.clientCA)
        case (nil, nil):
            let dir = options.developmentCertificateDirectory
            let files = CertificateReloader.Files(certificate: "\(dir)/tls.crt", key: "\(dir)/tls.key", clientCA: options.clientCA)
            if access(files.certificate, R_OK) == 0 && access(files.key, R_OK) == 0 {
                logger.notice("no --tls-cert/--tls-key given: using the development certificate in \(dir)/")
            } else {
                let bundle = try DevelopmentCertificates.write(
                    directory: dir, dnsNames: ["localhost"], ipAddresses: ["127.0.0.1", "::1"])
                logger.notice(
                    "no --tls-cert/--tls-key given: generated a development CA and a localhost certificate in \(dir)/ (ca.crt, tls.crt, tls.key); not for production",
                    metadata: ["caBundle": "\(bundle.prefix(24))..."])
            }
            let port = HTTPServerConfiguration.parseListenAddress(options.listen)?.port ?? 8443
            logger.notice(
                "try: curl --cacert \(dir)/ca.crt -H 'Content-Type: application/json' --data-binary @samples/enter.json https://localhost:\(port)/validate")
            return files
        default:
            throw StartupError("--tls-cert and --tls-key go together: give both, or neither for a development certificate")
        }
    }
}
