import Foundation
import TMMBase
import TMMTestSupport

/// One `tmm-webhook serve` process in live mode against the control plane, as its ServiceAccount user.
final class WebhookProcess: Sendable {
    let podName: String
    let port: Int
    let logPath: String
    private let arguments: [String]
    private let caPath: String
    private let child = Locked<ChildProcess?>(nil)

    init(podName: String, plane: ControlPlane, executable: String, extraArguments: [String] = []) throws {
        self.podName = podName
        port = try freePort()
        let (cert, key) = try plane.issueCertificate(name: podName, commonName: "tmm-webhook")
        logPath = plane.directory + "/\(podName).log"
        caPath = plane.caPath
        arguments = [
            executable, "serve", "--kubeconfig", plane.webhookKubeconfig, "--listen", "127.0.0.1:\(port)",
            "--tls-cert", cert, "--tls-key", key, "--namespace", "tmm-system", "--pod-name", podName,
            "--log-format", "json", "--log-level", "info",
        ] + extraArguments
    }

    var url: String { "https://127.0.0.1:\(port)" }

    func start() throws {
        let process = try ChildProcess(name: podName, arguments: arguments, logPath: logPath)
        child.withLock { $0 = process }
    }

    func stop(signal: Int32 = SIGTERM) { child.withLock { $0 }?.stop(signal: signal, grace: 25) }

    var isRunning: Bool { child.withLock { $0 }?.isRunning ?? false }

    /// GET /readyz, answered 200 "ok" once the first full sync is done.
    func isReady() -> Bool {
        guard let result = try? execute(["curl", "-sf", "--max-time", "2", "--cacert", caPath, "\(url)/readyz"], timeout: 5) else {
            return false
        }
        return result.succeeded && result.stdout.hasPrefix("ok")
    }

    func waitReady(timeout: Double = 30) throws {
        let ready = waitUntil(timeout: timeout, interval: 0.1) { !isRunning || isReady() }
        guard ready, isRunning else {
            throw HarnessError("\(podName) is not ready after \(timeout) s; its log ends:\n\(child.withLock { $0 }?.tail(30) ?? "")")
        }
    }

    /// The JSON log lines (`--log-format json`), oldest first, across restarts.
    func logLines() -> [[String: Any]] {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// The `decision` log lines for entries and escalations.
    func entryDecisions() -> [[String: Any]] {
        logLines().filter { ($0["msg"] as? String) == "decision" && ["enter", "escalate"].contains($0["transition"] as? String ?? "") }
    }

    /// The value of one sample of GET /metrics (the line starting `series `), or nil.
    func metric(_ series: String) -> Double? {
        guard let result = try? execute(["curl", "-sf", "--max-time", "5", "--cacert", caPath, "\(url)/metrics"], timeout: 10),
            result.succeeded
        else { return nil }
        return result.stdout.split(separator: "\n").lazy.compactMap { line -> Double? in
            guard line.hasPrefix(series + " ") else { return nil }
            return Double(line.dropFirst(series.count + 1))
        }.first
    }

    func tail(_ count: Int = 30) -> String { child.withLock { $0 }?.tail(count) ?? "" }

    /// POSTs an AdmissionReview straight to /validate (as anyone who can reach the port could), with
    /// the given `?timeout=`; returns the `response` object of the answer.
    func post(review: [String: Any], timeout: String = "5s") throws -> [String: Any] {
        let body = try JSONSerialization.data(withJSONObject: review)
        let path = NSTemporaryDirectory() + "tmm-review-\(UUID().uuidString).json"
        try body.write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try execute(
            ["curl", "-s", "--max-time", "20", "--cacert", caPath, "-H", "Content-Type: application/json",
             "--data-binary", "@\(path)", "\(url)/validate?timeout=\(timeout)"], timeout: 25)
        guard result.succeeded, let json = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
            let response = json["response"] as? [String: Any]
        else { throw HarnessError("no AdmissionReview answer from \(podName): \(result)") }
        return response
    }
}

/// A round-robin TCP forwarder (TLS passes through untouched): each new connection goes to the next
/// backend port. Logs one line per connection: `connection N -> PORT`.
final class RoundRobinForwarder: Sendable {
    let port: Int
    private let child: ChildProcess

    static let script = """
        import socket, sys, threading
        listen_port = int(sys.argv[1]); backends = [int(p) for p in sys.argv[2:]]
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", listen_port)); server.listen(128)
        print("listening", flush=True)
        def pump(source, sink):
            try:
                while True:
                    data = source.recv(65536)
                    if not data: break
                    sink.sendall(data)
            except OSError: pass
            finally:
                for s, how in ((sink, socket.SHUT_WR), (source, socket.SHUT_RD)):
                    try: s.shutdown(how)
                    except OSError: pass
        count = 0
        while True:
            client, _ = server.accept()
            backend = backends[count % len(backends)]; count += 1
            print(f"connection {count} -> {backend}", flush=True)
            try: upstream = socket.create_connection(("127.0.0.1", backend))
            except OSError: client.close(); continue
            threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
        """

    init(backends: [Int], directory: String) throws {
        port = try freePort()
        let scriptPath = directory + "/forwarder.py"
        try write(Self.script, to: scriptPath)
        guard let python = which("python3") else { throw HarnessError("python3 is not installed (the forwarder needs it)") }
        child = try ChildProcess(
            name: "forwarder", arguments: [python, "-u", scriptPath, String(port)] + backends.map(String.init),
            logPath: directory + "/forwarder-\(port).log")
        guard waitUntil(timeout: 10, interval: 0.05, { child.log.contains("listening") }) else {
            throw HarnessError("the forwarder did not start: \(child.tail())")
        }
    }

    /// Backend port of each connection so far, in order.
    var connections: [Int] {
        child.log.split(separator: "\n").compactMap { line in line.hasPrefix("connection ") ? line.split(separator: " ").last.flatMap { Int($0) } : nil }
    }

    func stop() { child.stop(signal: SIGKILL) }
}
