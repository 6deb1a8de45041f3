import TMMTestSupport
import Foundation
import Testing
import TMMBase
import TMMJSON
import TMMKube
import TMMTransport

/// kmock's KubernetesEmulator (PyPI `kmock`), a third party's reading of the API, run over TLS by
/// `Fixtures/kmock_emulator.py`. It has no paging, resourceVersions or conflicts, and its own Status
/// reasons; what it has, the client must handle. Enabled when `python3 -c 'import kmock'` works.
@Suite(.enabled(if: KmockEmulator.isInstalled, "pip install kmock")) struct KmockEmulatorTests {
    @Test func createGetPatchListAndErrors() throws {
        let emulator = try KmockEmulator()
        defer { emulator.stop() }
        let client = try KubeClient(config: emulator.config)
        let pods = "/api/v1/namespaces/store/pods"
        _ = try client.create(pods, ["metadata": ["name": "db-0", "namespace": "store"], "spec": ["nodeName": "n1"]])
        _ = try client.create(pods, ["metadata": ["name": "db-1", "namespace": "store"], "spec": ["nodeName": "n2"]])
        #expect(try client.get("\(pods)/db-0").value(at: "spec", "nodeName") == "n1")

        let duplicate = try #require(throws: KubeError.self) {
            try client.create(pods, ["metadata": ["name": "db-0", "namespace": "store"]])
        }
        #expect(duplicate.httpStatus == 409)
        #expect(duplicate.isConflict)  // kmock's reason is "Object Already Exists", not "AlreadyExists"

        let added = try client.patch("\(pods)/db-1", mergePatch: ["metadata": ["annotations": ["emm-failure": "NotEnoughResources"]]])
        #expect(added.value(at: "metadata", "annotations", "emm-failure") == "NotEnoughResources")
        let removed = try client.patch("\(pods)/db-1", mergePatch: ["metadata": ["annotations": ["emm-failure": nil]]])
        #expect(removed.value(at: "metadata", "annotations", "emm-failure") == nil)
        #expect(removed.value(at: "spec", "nodeName") == "n2")

        let missing = try #require(throws: KubeError.self) { try client.get("\(pods)/nope") }
        #expect(missing.isNotFound)

        let list = try client.listAll("/api/v1/pods", pageSize: 1)
        #expect(Set(list.items.compactMap { $0.value(at: "metadata", "name")?.string }) == ["db-0", "db-1"])
        #expect(list.pages == 1)  // kmock ignores `limit`
        #expect(client.connectionsOpened == 1)  // aiohttp kept the connection alive throughout
    }

    /// kmock streams the existing objects as ADDED, then live changes, in aiohttp's chunked framing.
    @Test func watchSeesExistingAndNewObjects() throws {
        let emulator = try KmockEmulator()
        defer { emulator.stop() }
        let client = try KubeClient(config: emulator.config)
        let pods = "/api/v1/namespaces/store/pods"
        _ = try client.create(pods, ["metadata": ["name": "db-0", "namespace": "store"]])
        let seen = Locked<[String]>([])
        let writer = Thread {
            // Changes once the watch has streamed the existing object, so they arrive as live events.
            waitUntil(timeout: 5) { !seen.withLock { $0.isEmpty } }
            _ = try? client.create(pods, ["metadata": ["name": "db-1", "namespace": "store"]])
            _ = try? client.patch("\(pods)/db-1", mergePatch: ["metadata": ["labels": ["a": "b"]]])
        }
        writer.start()
        let end = try client.watch("/api/v1/pods", resourceVersion: nil, deadline: deadline(5)) { event in
            let count = seen.withLock { seen in
                seen.append("\(event.type.rawValue) \(event.object.value(at: "metadata", "name")?.string ?? "?")")
                return seen.count
            }
            return count < 3
        }
        #expect(end == .stopped)
        #expect(seen.withLock { $0 } == ["ADDED db-0", "ADDED db-1", "MODIFIED db-1"])
    }
}

/// One `kmock_emulator.py` process on an ephemeral port.
final class KmockEmulator {
    static let isInstalled: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import kmock"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    let process = Process()
    let stdin = Pipe()
    let certificates: TestCertificates
    let port: Int

    init() throws {
        certificates = try TestCertificates()
        let script = try #require(Bundle.module.url(forResource: "Fixtures/kmock_emulator.py", withExtension: nil))
        let stdout = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, certificates.certPath, certificates.keyPath]
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The first line is "PORT <n>".
        var line: [UInt8] = []
        let handle = stdout.fileHandleForReading
        while line.last != 0x0A {
            let byte = handle.readData(ofLength: 1)
            if byte.isEmpty { break }
            line += byte
        }
        let text = String(decoding: line, as: UTF8.self)
        port = try #require(Int(text.dropFirst("PORT ".count).trimmingCharacters(in: .whitespacesAndNewlines)), "emulator said: \(text)")
    }

    var config: KubeConfig {
        KubeConfig(host: "127.0.0.1", port: port, certificateAuthorityPEM: certificates.ca.certificatePEM)
    }

    func stop() {
        try? stdin.fileHandleForWriting.close()
        if !waitForExit(process, timeout: 10) {
            process.terminate()
            Issue.record("kmock_emulator.py still running 10 s after its stdin closed")
            process.waitUntilExit()
        }
    }
}
