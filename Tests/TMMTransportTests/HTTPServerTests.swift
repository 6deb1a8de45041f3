import TMMBase
import TMMTestSupport
import Foundation
import Glibc
import Synchronization
import Testing
import TMMTransport

/// HTTP/1.1 behaviour over real TLS sockets: keep-alive, limits, timeouts, slow peers, shutdown, reload.
@Suite struct HTTPServerTests {
    @Test func manyRequestsOnOneKeepAliveConnection() throws {
        let server = try TestServer()
        defer { server.stop() }
        let client = try server.client()
        for i in 0..<100 {
            let body = Array(repeating: UInt8(ascii: "x"), count: i * 100)
            try client.send(method: "POST", target: "/echo", host: "localhost", body: body, deadline: deadline(5))
            let response = try client.readResponse(deadline: deadline(5))
            #expect(response.status == 200)
            #expect(response.bodyText == "got \(i * 100) bytes")
        }
        #expect(client.reusable)
        #expect(client.connection.alpnProtocol == nil)  // no ALPN offered, none chosen
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let server = try TestServer()
        defer { server.stop() }
        let client = try server.client()
        let one = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        let two = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde"
        try client.send(raw: Array((one + two).utf8), deadline: deadline(5))
        #expect(try client.readResponse(deadline: deadline(5)).bodyText == "got 3 bytes")
        #expect(try client.readResponse(deadline: deadline(5)).bodyText == "got 5 bytes")
    }

    /// A body is read into its request's buffer and no further: the TLS record that ends it may carry
    /// the next request too, which waits in the TLS session until the first is answered. Also two
    /// requests in records of their own, sent before the server reads either.
    @Test func pipelinedRequestsSplitAcrossTLSRecordsAreAnsweredInOrder() throws {
        let server = try TestServer()
        defer { server.stop() }
        let client = try server.client()
        try client.send(raw: Array("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n".utf8), deadline: deadline(5))
        try client.send(raw: Array("abcPOST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde".utf8), deadline: deadline(5))
        #expect(try client.readResponse(deadline: deadline(5)).bodyText == "got 3 bytes")
        #expect(try client.readResponse(deadline: deadline(5)).bodyText == "got 5 bytes")

        // Whether the second record is already in the socket when the first is read depends on timing:
        // several rounds make it happen (it used to wait for the idle timeout, OpenSSL's pending count
        // not including a record read ahead).
        for _ in 0..<20 {
            try client.send(raw: Array("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\na".utf8), deadline: deadline(5))
            try client.send(raw: Array("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab".utf8), deadline: deadline(5))
            #expect(try client.readResponse(deadline: deadline(5)).bodyText == "got 1 bytes")
            #expect(try client.readResponse(deadline: deadline(5)).bodyText == "got 2 bytes")
        }
    }

    /// Each malformed or oversized request gets its status, and the server keeps serving others.
    @Test(arguments: [
        ("GARBAGE\r\n\r\n", 400),
        ("GET /x HTTP/1.1\r\nHost x\r\n\r\n", 400),
        ("GET /x HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        ("GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 411),
        ("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 9999999999\r\n\r\n", 413),
        ("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\n\r\n", 413),
        ("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
        ("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
        ("GET /x HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),
        ("GET /x HTTP/1.1\r\nHost: x\r\nExpect: something\r\n\r\n", 417),
        ("GET /x HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "a", count: 5000) + "\r\n\r\n", 431),
    ])
    func badRequestsGetTheirStatus(raw: String, status: Int) throws {
        let server = try TestServer { config in
            config.maxHeaderBytes = 4096
            config.maxBodyBytes = 1024
        }
        defer { server.stop() }
        let client = try server.client()
        try client.send(raw: Array(raw.utf8), deadline: deadline(5))
        let response = try client.readResponse(deadline: deadline(5))
        #expect(response.status == status, "\(response.bodyText)")
        #expect(response.header("Content-Type") == "application/json")
        #expect(response.bodyText.contains("\"error\""))
        #expect(response.header("Connection") == "close")
        // The connection is closed after a framing error...
        #expect(try client.connection.read(deadline: deadline(5)).isEmpty)
        // ...and the server keeps serving.
        let again = try server.client()
        try again.send(method: "GET", target: "/", host: "x", deadline: deadline(5))
        #expect(try again.readResponse(deadline: deadline(5)).status == 200)
    }

    @Test func headersThatNeverEndAre431() throws {
        let server = try TestServer { $0.maxHeaderBytes = 2048 }
        defer { server.stop() }
        let client = try server.client()
        try client.send(raw: Array(("GET / HTTP/1.1\r\nX: " + String(repeating: "b", count: 3000)).utf8), deadline: deadline(5))
        #expect(try client.readResponse(deadline: deadline(5)).status == 431)
    }

    @Test func expectContinueIsHonoured() throws {
        let server = try TestServer()
        defer { server.stop() }
        let client = try server.client()
        try client.send(raw: Array("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n".utf8), deadline: deadline(5))
        let interim = try client.connection.read(deadline: deadline(5))
        #expect(String(decoding: interim, as: UTF8.self) == "HTTP/1.1 100 Continue\r\n\r\n")
        try client.send(raw: Array("abcd".utf8), deadline: deadline(5))
        #expect(try client.readResponse(deadline: deadline(5)).bodyText == "got 4 bytes")
        // And with curl, which sends Expect for large bodies.
        guard require(tool: "curl") else { return }
        let body = String(repeating: "y", count: 2_000_000)
        let result = try run(
            ["curl", "-sS", "--cacert", server.certificates.caPath, "-H", "Expect: 100-continue", "--data-binary", "@-",
             "https://127.0.0.1:\(server.port)/echo"], input: Data(body.utf8))
        #expect(result.output == "got 2000000 bytes", "\(result.output)")
    }

    @Test func slowHeadersGet408AndSilentHandshakesAreDropped() throws {
        let server = try TestServer { config in
            config.headerTimeout = .milliseconds(600)
            config.handshakeTimeout = .milliseconds(600)
        }
        defer { server.stop() }
        let client = try server.client()
        try client.send(raw: Array("GET / HTTP/1.1\r\nHost:".utf8), deadline: deadline(5))
        let response = try client.readResponse(deadline: deadline(5))
        #expect(response.status == 408)
        // A TCP connection that never starts TLS is closed after the handshake timeout: the configured
        // 600 ms, not the default 10 s (the bound tells them apart with room for parallel tests).
        let fd = try rawTCPConnect(port: server.port)
        defer { close(fd) }
        var byte: UInt8 = 0
        let start = Deadline.now()
        let n = read(fd, &byte, 1)  // blocks until the server closes
        #expect(n == 0)
        #expect(seconds(since: start) < 5, "closed \(seconds(since: start)) s after connecting")
    }

    @Test func idleConnectionsCloseAfterTheIdleTimeout() throws {
        let server = try TestServer { $0.idleTimeout = .milliseconds(500) }
        defer { server.stop() }
        let client = try server.client()
        // The connection cannot fall idle before its request is sent: no load can make this bound fail
        // unless the server closes early. (Closed at all, not at the default 120 s: the read's deadline.)
        let sent = Deadline.now()
        try client.send(method: "GET", target: "/", host: "x", deadline: deadline(5))
        #expect(try client.readResponse(deadline: deadline(5)).status == 200)
        #expect(try client.connection.read(deadline: deadline(5)).isEmpty)
        #expect(seconds(since: sent) >= 0.49, "closed \(seconds(since: sent)) s after the request was sent")
    }

    /// Silent peers (no handshake), a client dribbling its head and an unfinished handshake do not delay a
    /// normal client: it is served while they are all still there, long before any of their timeouts (10 s)
    /// would free the server. The bound is loose on purpose: other tests run in parallel.
    @Test func slowClientsDoNotDelayOthers() throws {
        let server = try TestServer()
        defer { server.stop() }
        var silent: [Int32] = []
        for _ in 0..<50 { silent.append(try rawTCPConnect(port: server.port)) }
        defer { silent.forEach { close($0) } }
        // Half a ClientHello: the server is mid-handshake with this one.
        let half = try rawTCPConnect(port: server.port)
        defer { close(half) }
        let partial: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00]
        _ = write(half, partial, partial.count)
        // A TLS client dribbling its request a byte every 100 ms (the slowness is the behaviour under test);
        // its head takes about 8 s to complete.
        nonisolated(unsafe) let slow = try server.client()
        let stop = Atomic<Bool>(false)
        let slowHead = Array("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: \(String(repeating: "s", count: 56))\r\n".utf8)
        let dribbled = Atomic<Int>(0)
        let dribbler = Thread {
            for byte in slowHead {
                if stop.load(ordering: .relaxed) { break }
                try? slow.send(raw: [byte], deadline: deadline(5))
                dribbled.add(1, ordering: .relaxed)
                usleep(100_000)
            }
        }
        dribbler.start()
        defer { stop.store(true, ordering: .relaxed) }
        for _ in 0..<5 {
            let start = Deadline.now()
            let fast = try server.client()
            try fast.send(method: "GET", target: "/", host: "x", deadline: deadline(5))
            #expect(try fast.readResponse(deadline: deadline(5)).status == 200)
            #expect(seconds(since: start) < 5, "a normal client waited \(seconds(since: start)) s")
        }
        // All of that while the slow client was still mid-head (else it proved nothing about it).
        #expect(dribbled.load(ordering: .relaxed) < slowHead.count, "the slow client finished its head first")
    }

    @Test func thousandConcurrentKeepAliveConnections() throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < 4096 {
            limit.rlim_cur = min(limit.rlim_max, 8192)
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        try #require(limit.rlim_cur >= 2200, "need 2,200 file descriptors for 1,000 connections on both ends")
        let server = try TestServer()
        defer { server.stop() }
        var clients: [HTTPClientConnection] = []
        for _ in 0..<1000 { clients.append(try server.client(timeout: 10)) }
        // Every connection is open at once; each is served, then served again (keep-alive).
        for round in 0..<2 {
            for client in clients { try client.send(method: "GET", target: "/", host: "x", deadline: deadline(10)) }
            for client in clients {
                let response = try client.readResponse(deadline: deadline(10))
                #expect(response.status == 200, "round \(round)")
            }
        }
    }

    @Test func gracefulShutdownFinishesInFlightRequests() throws {
        let server = try TestServer()
        let idle = try server.client()
        try idle.send(method: "GET", target: "/", host: "x", deadline: deadline(5))
        _ = try idle.readResponse(deadline: deadline(5))
        let busy = try server.client()
        try busy.send(method: "GET", target: "/slow", host: "x", deadline: deadline(5))
        #expect(waitUntil(timeout: 5) { server.observer.started.load(ordering: .relaxed) == 2 })
        let start = Deadline.now()
        let stopper = Thread { server.stop() }
        stopper.start()
        // The idle connection is closed at once; the slow request still gets its answer.
        #expect(try idle.connection.read(deadline: deadline(5)).isEmpty)
        let response = try busy.readResponse(deadline: deadline(5))
        #expect(response.status == 200)
        #expect(response.bodyText == "slow done")
        #expect(response.header("Connection") == "close")
        #expect(waitUntil(timeout: 10) { !stopper.isExecuting })
        // Once the in-flight request (1 s) is answered, not at the end of the grace period (20 s by
        // default); the bound tells the two apart with room for parallel tests.
        #expect(seconds(since: start) < 10, "the shutdown took \(seconds(since: start)) s")
        // The listener is closed.
        #expect(throws: TLSClientConnection.Failure.self) { _ = try server.client(timeout: 1) }
    }

    /// The shutdown gives up at its grace period (300 ms), not when the request is answered (30 s) nor at
    /// the default grace period (20 s): the loose bound tells them apart with room for parallel tests, and
    /// the client gets no answer.
    @Test func shutdownGivesUpOnRequestsPastTheGracePeriod() throws {
        let server = try TestServer { $0.shutdownGracePeriod = .milliseconds(300) }
        let busy = try server.client()
        try busy.send(method: "GET", target: "/slow?seconds=30", host: "x", deadline: deadline(5))
        #expect(waitUntil(timeout: 5) { server.observer.started.load(ordering: .relaxed) == 1 })
        let start = Deadline.now()
        server.stop()
        #expect(seconds(since: start) < 10, "the shutdown took \(seconds(since: start)) s")
        #expect(throws: TLSClientConnection.Failure.self) { _ = try busy.readResponse(deadline: deadline(2)) }
    }

    @Test func certificateIsReloadedWhenTheSecretVolumeSwapsItsSymlink() throws {
        // Lay out files like a Kubernetes Secret volume: tls.crt -> ..data/tls.crt, ..data -> ..2026_1
        let first = try TestCertificates(commonName: "first")
        let second = try TestCertificates(commonName: "second")
        let volume = NSTemporaryDirectory() + "tmm-volume-\(UUID().uuidString)"
        let fm = FileManager.default
        try fm.createDirectory(atPath: volume + "/..2026_1", withIntermediateDirectories: true)
        try fm.copyItem(atPath: first.certPath, toPath: volume + "/..2026_1/tls.crt")
        try fm.copyItem(atPath: first.keyPath, toPath: volume + "/..2026_1/tls.key")
        try fm.createSymbolicLink(atPath: volume + "/..data", withDestinationPath: "..2026_1")
        try fm.createSymbolicLink(atPath: volume + "/tls.crt", withDestinationPath: "..data/tls.crt")
        try fm.createSymbolicLink(atPath: volume + "/tls.key", withDestinationPath: "..data/tls.key")

        let files = CertificateReloader.Files(certificate: volume + "/tls.crt", key: volume + "/tls.key")
        let (context, contents) = try CertificateReloader.loadContext(files)
        let source = TLSContextSource(context)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let reloader = CertificateReloader(files: files, source: source, initialContents: contents, logger: logger)
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.eventLoopCount = 1
        let server = try HTTPServer(configuration: configuration, tls: source, handler: TestHandler(), logger: logger)
        server.start()
        defer { server.shutdown() }

        func subject(_ certificates: TestCertificates) throws -> String? {
            let c = try TLSClientConnection(
                host: "127.0.0.1", port: server.port, context: try certificates.clientContext(), deadline: deadline(5))
            defer { c.close() }
            return c.peerSubject
        }
        #expect(try subject(first) == "/CN=first")
        #expect(reloader.checkNow() == false)  // nothing changed

        // Kubernetes writes a new timestamped directory and swaps ..data atomically.
        try fm.createDirectory(atPath: volume + "/..2026_2", withIntermediateDirectories: true)
        try fm.copyItem(atPath: second.certPath, toPath: volume + "/..2026_2/tls.crt")
        try fm.copyItem(atPath: second.keyPath, toPath: volume + "/..2026_2/tls.key")
        try fm.createSymbolicLink(atPath: volume + "/..data_tmp", withDestinationPath: "..2026_2")
        #expect(rename(volume + "/..data_tmp", volume + "/..data") == 0)
        #expect(reloader.checkNow() == true)
        #expect(try subject(second) == "/CN=second")

        // A broken pair (key from another certificate) is refused; the last good one keeps serving.
        try fm.createDirectory(atPath: volume + "/..2026_3", withIntermediateDirectories: true)
        try fm.copyItem(atPath: first.certPath, toPath: volume + "/..2026_3/tls.crt")
        try fm.copyItem(atPath: second.keyPath, toPath: volume + "/..2026_3/tls.key")
        try fm.createSymbolicLink(atPath: volume + "/..data_tmp", withDestinationPath: "..2026_3")
        #expect(rename(volume + "/..data_tmp", volume + "/..data") == 0)
        #expect(reloader.checkNow() == false)
        #expect(try subject(second) == "/CN=second")
    }

    @Test func reloaderNoticesChangesOnItsOwn() throws {
        let first = try TestCertificates(commonName: "first")
        let second = try TestCertificates(commonName: "second")
        let files = CertificateReloader.Files(certificate: first.certPath, key: first.keyPath)
        let (context, contents) = try CertificateReloader.loadContext(files)
        let source = TLSContextSource(context)
        let reloaded = Atomic<Int>(0)
        let reloader = CertificateReloader(
            files: files, source: source, initialContents: contents, interval: .milliseconds(200),
            logger: Logger(label: "test")
        ) { event in
            if case .reloaded = event { reloaded.add(1, ordering: .relaxed) }
        }
        reloader.start()
        defer { reloader.stop() }
        try FileManager.default.removeItem(atPath: first.certPath)
        try FileManager.default.copyItem(atPath: second.certPath, toPath: first.certPath)
        try FileManager.default.removeItem(atPath: first.keyPath)
        try FileManager.default.copyItem(atPath: second.keyPath, toPath: first.keyPath)
        #expect(waitUntil(timeout: 5) { reloaded.load(ordering: .relaxed) > 0 })
        #expect(reloaded.load(ordering: .relaxed) == 1)
        #expect(source.current.certificateSubject == "/CN=second")
    }
}

import Logging

func rawTCPConnect(port: Int) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    try #require(rc == 0)
    return fd
}
