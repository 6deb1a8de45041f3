import Foundation
import TMMBase
import Yams

/// An error of the deploy tests' own machinery (not a failed expectation): no kubectl, a render that
/// failed, a file that is missing.
struct DeployTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Renders the kustomize overlays under `deploy/` with `kubectl kustomize`.
///
/// The tests render a private copy of `deploy/`, made once per test process, so that they can put
/// stand-in certificate files where the self-signed overlay expects the output of `tmm-webhook certs`
/// (those files are git-ignored and absent in a clean checkout) and add the overlay combinations that
/// deploy/README.md documents, without writing into the working tree.
enum Kustomize {
    /// The repository root, found from this file's path (Tests/TMMDeployTests/Kustomize.swift).
    static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The copy of deploy/ and the renders made so far, by overlay path.
    private static let state = Locked<(tree: String?, renders: [String: String])>((nil, [:]))

    /// The stand-in for `ca.crt` in the self-signed overlay; the test checks it lands in the caBundle.
    static let fakeCA = "-----BEGIN CERTIFICATE-----\nTMMDeployTests stand-in CA\n-----END CERTIFICATE-----\n"

    /// Overlay combinations deploy/README.md documents ("Combining"), created in the copy under combos/.
    static let combinations: [String: String] = [
        "combos/vsphere-self-signed": """
            apiVersion: kustomize.config.k8s.io/v1beta1
            kind: Kustomization
            resources:
              - ../../overlays/self-signed
            components:
              - ../../components/vsphere

            """,
        "combos/dell-self-signed": """
            apiVersion: kustomize.config.k8s.io/v1beta1
            kind: Kustomization
            resources:
              - ../../overlays/self-signed
            components:
              - ../../components/dell

            """,
    ]

    /// The rendered objects of `overlay`, a directory relative to deploy/ (e.g. "overlays/vsphere").
    static func render(_ overlay: String) throws -> [Manifest] {
        let text = try renderedText(overlay)
        var objects: [Manifest] = []
        for document in try Yams.load_all(yaml: text) {
            let object = Manifest(document)
            guard !object.isNull else { continue }
            objects.append(object)
        }
        if objects.isEmpty { throw DeployTestError("kubectl kustomize \(overlay) rendered no objects") }
        return objects
    }

    /// The raw output of `kubectl kustomize` for `overlay`.
    static func renderedText(_ overlay: String) throws -> String {
        try state.withLock { state in
            if let text = state.renders[overlay] { return text }
            let tree: String
            if let existing = state.tree {
                tree = existing
            } else {
                tree = try makeTree()
                state.tree = tree
            }
            let text = try run(kubectl: ["kustomize", tree + "/" + overlay])
            state.renders[overlay] = text
            return text
        }
    }

    /// Path of `kubectl`: `$KUBECTL` if set, else the first executable `kubectl` on `$PATH`.
    static func kubectlPath() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["KUBECTL"], !explicit.isEmpty { return explicit }
        for directory in (environment["PATH"] ?? "").split(separator: ":") {
            let candidate = String(directory) + "/kubectl"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw DeployTestError("""
            kubectl not found on PATH. TMMDeployTests render the kustomize overlays in deploy/ with \
            `kubectl kustomize`; install kubectl (any version >= 1.27; CI installs it) or point KUBECTL at it.
            """)
    }

    /// A fresh copy of deploy/ in a temporary directory, with stand-in certificates and the combinations.
    private static func makeTree() throws -> String {
        let files = FileManager.default
        let source = repositoryRoot.appendingPathComponent("deploy")
        guard files.fileExists(atPath: source.path) else {
            throw DeployTestError("no deploy/ directory at \(source.path)")
        }
        removeStaleTrees()
        let root = files.temporaryDirectory
            .appendingPathComponent("\(treePrefix)\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)")
        try files.createDirectory(at: root, withIntermediateDirectories: true)
        let tree = root.appendingPathComponent("deploy")
        try files.copyItem(at: source, to: tree)

        let certs = tree.appendingPathComponent("overlays/self-signed/certs")
        try files.createDirectory(at: certs, withIntermediateDirectories: true)
        try fakeCA.write(to: certs.appendingPathComponent("ca.crt"), atomically: true, encoding: .utf8)
        try "-----BEGIN CERTIFICATE-----\nstand-in\n-----END CERTIFICATE-----\n"
            .write(to: certs.appendingPathComponent("tls.crt"), atomically: true, encoding: .utf8)
        try "-----BEGIN PRIVATE KEY-----\nstand-in\n-----END PRIVATE KEY-----\n"
            .write(to: certs.appendingPathComponent("tls.key"), atomically: true, encoding: .utf8)

        for (path, kustomization) in combinations {
            let directory = tree.appendingPathComponent(path)
            try files.createDirectory(at: directory, withIntermediateDirectories: true)
            try kustomization.write(
                to: directory.appendingPathComponent("kustomization.yaml"), atomically: true, encoding: .utf8)
        }
        return tree.path
    }

    private static let treePrefix = "tmm-deploy-tests-"

    /// Removes the copies earlier test processes left (there is no hook at the end of a test run):
    /// those whose process, named in the directory name, has gone.
    private static func removeStaleTrees() {
        let files = FileManager.default
        let temporary = files.temporaryDirectory
        for entry in (try? files.contentsOfDirectory(atPath: temporary.path)) ?? [] where entry.hasPrefix(treePrefix) {
            guard let pid = Int32(entry.dropFirst(treePrefix.count).prefix { $0 != "-" }) else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                try? files.removeItem(at: temporary.appendingPathComponent(entry))
            }
        }
    }

    /// How long one kubectl run may take (a render takes well under a second).
    static let kubectlTimeout: TimeInterval = 120

    /// Runs kubectl with `arguments`; its standard output, or an error carrying its standard error.
    private static func run(kubectl arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try kubectlPath())
        process.arguments = arguments
        let output = Pipe()
        // Standard error goes to a file, so a chatty kubectl cannot fill a pipe nobody reads.
        let errorURL = FileManager.default.temporaryDirectory
            .appendingPathComponent("tmm-kubectl-stderr-\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: errorURL.path, contents: nil) else {
            throw DeployTestError("cannot create \(errorURL.path)")
        }
        let errorFile = try FileHandle(forWritingTo: errorURL)
        defer {
            try? errorFile.close()
            try? FileManager.default.removeItem(at: errorURL)
        }
        process.standardOutput = output
        process.standardError = errorFile
        try process.run()
        // A kubectl that hangs (a plugin, a lock) fails the test instead of holding the run until CI's
        // own timeout: after `kubectlTimeout` it is terminated, which closes its output.
        let timedOut = Locked(false)
        DispatchQueue.global().asyncAfter(deadline: .now() + kubectlTimeout) {
            guard process.isRunning else { return }
            timedOut.withLock { $0 = true }
            process.terminate()
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        if timedOut.withLock({ $0 }) {
            throw DeployTestError("kubectl \(arguments.joined(separator: " ")) did not finish within \(Int(kubectlTimeout)) s")
        }
        guard process.terminationStatus == 0 else {
            let message = (try? String(contentsOf: errorURL, encoding: .utf8)) ?? ""
            throw DeployTestError(
                "kubectl \(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(message)")
        }
        return String(decoding: data, as: UTF8.self)
    }
}
