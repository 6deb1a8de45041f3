import Foundation
import Synchronization
import Testing
import TMMBase
import TMMTestSupport
import TMMTransport

@Suite struct TLSClientConnectionTests {
    /// A handshake that fails (here: the server's certificate is from a CA the client does not trust)
    /// closes the socket exactly once. A second close of the same number, after another thread has been
    /// given it, closes that thread's descriptor: in CI this once took a test API server's listening
    /// socket, and a client in another test was refused. Another thread opens and checks pipes meanwhile;
    /// any descriptor of its own that it finds closed under it is the bug.
    @Test func aFailedHandshakeClosesItsSocketOnce() throws {
        let server = try TestServer()
        defer { server.stop() }
        let untrusted = try TLSContext.client(trustedCAPEM: try TestCertificates().ca.certificatePEM)
        let stop = Atomic<Bool>(false)
        let lost = Atomic<Int>(0)
        let finished = Atomic<Bool>(false)
        let checker = Thread {
            while !stop.load(ordering: .relaxed) {
                var fds: [Int32] = [0, 0]
                guard pipe(&fds) == 0 else { continue }
                for _ in 0..<200 { _ = fcntl(fds[0], F_GETFD) }
                for fd in fds {
                    // Closed by someone else: count it, and do not close the number (it may be reused).
                    if fcntl(fd, F_GETFD) < 0 { lost.add(1, ordering: .relaxed) } else { close(fd) }
                }
            }
            finished.store(true, ordering: .releasing)
        }
        checker.start()
        var failures = 0
        for _ in 0..<300 {
            do {
                _ = try TLSClientConnection(host: "127.0.0.1", port: server.port, context: untrusted, deadline: .now() + .seconds(5))
            } catch {
                failures += 1
            }
        }
        stop.store(true, ordering: .relaxed)
        #expect(waitUntil(timeout: 5) { finished.load(ordering: .acquiring) })
        #expect(failures == 300)
        #expect(lost.load(ordering: .relaxed) == 0, "descriptors closed under another thread")
    }
}
