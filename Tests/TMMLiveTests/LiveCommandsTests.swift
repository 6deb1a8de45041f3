import TMMTestSupport
import Foundation
import Testing
import TMMApp
import TMMJSON
import TMMKube

/// `check`, `plan` and `status` reading the cluster (the fake API server over TLS) instead of a dump, run
/// as the built binary, also as a kubectl plugin through the real kubectl.
@Suite(.serialized) struct LiveCommandsTests {
    /// The fake server with a kubeconfig of two contexts: `good` (the current one unless `current` says
    /// otherwise) and `stale`, whose token the server refuses.
    struct Cluster {
        let fake: FakeAPIServer
        let dir: String
        var kubeconfig: String { dir + "/kubeconfig" }

        init(current: String = "good") throws {
            fake = try FakeAPIServer()
            dir = try temporaryDirectory()
            try write(
                fake.kubeconfig(
                    users: "- {name: admin, user: {token: good-token}}\n- {name: old, user: {token: expired-token}}",
                    contexts: "- {name: good, context: {cluster: fake, user: admin}}\n- {name: stale, context: {cluster: fake, user: old}}",
                    current: current),
                to: kubeconfig)
        }

        var client: KubeClient { get throws { try KubeClient(config: fake.config()) } }
    }

    static let fixtures = packageRoot + "/Tests/TMMTestSupport/Fixtures/"
    static let dump = ["list-nodes.json", "list-pods.json", "list-pdbs.json"].flatMap { ["--state", fixtures + $0] }

    /// Runs the binary (or `command`) with `environment` added, and returns its exit status, standard
    /// output and standard error separately.
    static func exec(
        _ arguments: [String], command: String? = nil, environment: [String: String] = [:]
    ) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        let executable = try command ?? webhookExecutable()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "KUBECONFIG")
        env["HOME"] = "/nonexistent"  // no ~/.kube/config of the machine's
        for (k, v) in environment {
            if v.isEmpty { env.removeValue(forKey: k) } else { env[k] = v }
        }
        process.environment = env
        let dir = try temporaryDirectory()
        _ = FileManager.default.createFile(atPath: dir + "/out", contents: nil)
        _ = FileManager.default.createFile(atPath: dir + "/err", contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/out"))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/err"))
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        try process.run()
        if !waitForExit(process, timeout: 60) {
            process.terminate()
            Issue.record("\(arguments) timed out")
        }
        process.waitUntilExit()
        try out.close()
        try err.close()
        return (
            process.terminationStatus, (try? String(contentsOfFile: dir + "/out", encoding: .utf8)) ?? "",
            (try? String(contentsOfFile: dir + "/err", encoding: .utf8)) ?? ""
        )
    }

    @Test(arguments: [["check", "n1"], ["check", "n2", "--output", "json"], ["check", "nowhere"], ["plan"], ["plan", "-o", "json"], ["status"]])
    func liveAnswersAreTheDumpsAnswers(_ command: [String]) throws {
        let cluster = try Cluster()
        defer { cluster.fake.stop() }
        let fromDump = try Self.exec(command + Self.dump)
        let live = try Self.exec(command + ["--kubeconfig", cluster.kubeconfig])
        #expect(!fromDump.out.isEmpty)
        #expect(live.status == fromDump.status, "\(live.err)")
        if command == ["status"] {
            // The snapshot has no Lease and its policy is not the ConfigMap's; the rest is the same.
            #expect(live.out.replacingOccurrences(of: "tmm-system/tmm-webhook-entries", with: "none (snapshot)")
                .replacingOccurrences(of: "policy: defaults (ConfigMap tmm-system/tmm-webhook-policy not found)", with: "policy: defaults")
                == fromDump.out)
        } else {
            #expect(live.out == fromDump.out)
        }
        #expect(live.err.contains("using the default policy"), "\(live.err)")
        // One pass of paged LISTs of the three collections.
        let targets = cluster.fake.api.requests.map(\.target)
        for collection in ["/api/v1/nodes?limit=500", "/api/v1/pods?limit=500", "/apis/policy/v1/poddisruptionbudgets?limit=500"] {
            #expect(targets.contains(collection), "\(targets)")
        }
        #expect(!targets.contains { $0.contains("watch=") })
    }

    @Test func listsArePagedThrough() throws {
        // 30 extra pods: the client asks 500 a page, so page by hand through the same code with 7 a page.
        let cluster = try Cluster()
        defer { cluster.fake.stop() }
        let client = try cluster.client
        for i in 0..<30 {
            _ = try client.create(
                "/api/v1/namespaces/extra/pods",
                ["kind": "Pod", "metadata": ["name": .string("p\(i)"), "namespace": "extra"], "spec": ["nodeName": "n3"]])
        }
        let live = LiveCluster(client: client, namespace: "tmm-system")
        var pages = 0
        var token: String?
        repeat {
            let body = try live.page(of: "/api/v1/pods", continue: token, pageSize: 7)
            pages += 1
            let next = try JSON.parse(body).value(at: "metadata", "continue")?.string ?? ""
            token = next.isEmpty ? nil : next
        } while token != nil
        #expect(pages == 5)  // 33 pods, 7 a page
        let state = try live.state(keptAnnotationKeys: ["emm-failure"])
        #expect(state.podCount == 33)
        #expect(state.nodeCount == 3)
        #expect(state.budgetCount == 1)
    }

    @Test func statusShowsMaintenancePendingEntriesAndFailedPods() throws {
        let cluster = try Cluster()
        defer { cluster.fake.stop() }
        let client = try cluster.client
        // n2 under a NoExecute maintenance taint the API server stamped; n3 under NoSchedule (no timeAdded);
        // n1 admitted by the webhook but not tainted yet; db-0 refused earlier.
        _ = try client.patch(
            "/api/v1/nodes/n2",
            mergePatch: ["spec": ["taints": [["key": "drain", "value": "drain", "effect": "NoExecute", "timeAdded": "2026-11-26T00:10:00Z"]]]])
        _ = try client.patch(
            "/api/v1/nodes/n3",
            mergePatch: ["spec": ["taints": [["key": "node.dell.com/drain", "value": "planned-downtime", "effect": "NoSchedule"]]]])
        _ = try client.patch(
            "/api/v1/namespaces/store/pods/db-0", mergePatch: ["metadata": ["annotations": ["emm-failure": "TooManyExistingFailures"]]])
        // The Lease as the webhook writes it: node -> expiry (Unix ms) and the node's resourceVersion when
        // admitted. n1: pending; n2: its taint shows; n3: updated since (the entry was dropped); gone: expired.
        let expiry = Int64(Date().timeIntervalSince1970 * 1000) + 300_000
        let n1Version = try client.get("/api/v1/nodes/n1").value(at: "metadata", "resourceVersion")?.string ?? ""
        let entries = #"{"n1":{"expires":\#(expiry),"resourceVersion":"\#(n1Version)"},"n2":{"expires":\#(expiry),"resourceVersion":"1"},"n3":{"expires":\#(expiry),"resourceVersion":"1"},"gone":{"expires":1000,"resourceVersion":"1"}}"#
        _ = try client.create(
            "/apis/coordination.k8s.io/v1/namespaces/ops/leases",
            ["kind": "Lease", "metadata": ["name": "tmm-webhook-entries", "namespace": "ops", "annotations": ["tmm-webhook.io/admitted-entries": .string(entries)]]])
        _ = try client.create(
            "/api/v1/namespaces/ops/configmaps",
            ["kind": "ConfigMap", "metadata": ["name": "tmm-webhook-policy", "namespace": "ops"],
             "data": ["policy.yaml": "taintKeys: [drain, node.dell.com/drain]\nmaxNodesInMaintenance: 2\n"]])

        let text = try Self.exec(["status", "--kubeconfig", cluster.kubeconfig, "--namespace", "ops"])
        #expect(text.status == 0, "\(text.err)")
        let lines = text.out.split(separator: "\n").map(String.init)
        #expect(lines.contains("Nodes in maintenance: 2"), "\(text.out)")
        #expect(lines.contains("  n2  NoExecute  since 2026-11-26T00:10:00Z  (drain=drain:NoExecute)"), "\(text.out)")
        #expect(lines.contains("  n3  planned-downtime:NoSchedule  since unknown  (node.dell.com/drain=planned-downtime:NoSchedule)"), "\(text.out)")
        // n2's entry is visible as its taint; the expired one is not counted.
        #expect(lines.contains("Admitted entries pending in Lease ops/tmm-webhook-entries: 1"), "\(text.out)")
        #expect(lines.contains { $0.hasPrefix("  n1  until ") })
        #expect(lines.contains("Pods with emm-failure: 1"))
        #expect(lines.contains("  store/db-0  TooManyExistingFailures  node n1"))
        #expect(lines.contains("policy: ConfigMap ops/tmm-webhook-policy"))
        #expect(!text.err.contains("default policy"), "\(text.err)")

        let json = try Self.exec(["status", "--kubeconfig", cluster.kubeconfig, "--namespace", "ops", "-o", "json"])
        #expect(json.status == 0)
        let report = try JSON.parse(json.out)
        #expect(report["nodesInMaintenance"]?.array?.compactMap { $0["node"]?.string } == ["n2", "n3"])
        #expect(report["nodesInMaintenance"]?[0]?["since"]?.string == "2026-11-26T00:10:00Z")
        #expect(report["nodesInMaintenance"]?[1]?["since"]?.isNull == true)
        #expect(report["nodesInMaintenance"]?[0]?["level"]?.string == "NoExecute")
        #expect(report["pendingEntries"]?.array?.compactMap { $0["node"]?.string } == ["n1"])
        #expect(report["failedPods"]?[0]?["reason"]?.string == "TooManyExistingFailures")
        #expect(report["failedPods"]?[0]?["node"]?.string == "n1")

        // check counts the Lease's pending entry (n1) and the installed policy (maxNodesInMaintenance 2):
        // with n3 back in service, n3 would be the third node with n2 and n1.
        _ = try client.patch("/api/v1/nodes/n3", mergePatch: ["spec": ["taints": []]])
        let check = try Self.exec(["check", "n3", "--kubeconfig", cluster.kubeconfig, "--namespace", "ops"])
        #expect(check.status == 1, "\(check.out)\(check.err)")
        #expect(check.out.contains("TooManyExistingFailures"), "\(check.out)")
        #expect(check.out.contains("in maintenance or entering: n1, n2 (maxNodesInMaintenance 2)"), "\(check.out)")
    }

    @Test func contextAndKubeconfigAreHonoured() throws {
        let cluster = try Cluster(current: "stale")
        defer { cluster.fake.stop() }
        let refused = try Self.exec(["check", "n1", "--kubeconfig", cluster.kubeconfig])
        #expect(refused.status == 2)
        #expect(refused.err.contains("401") || refused.err.contains("Unauthorized"), "\(refused.err)")
        #expect(refused.out.isEmpty)
        let good = try Self.exec(["check", "n1", "--kubeconfig", cluster.kubeconfig, "--context", "good"])
        #expect(good.status == 0 || good.status == 1, "\(good.err)")
        #expect(good.out.contains("n1"))
        // KUBECONFIG as kubectl sets it, with the context flag.
        let viaEnv = try Self.exec(["check", "n1", "--context", "good"], environment: ["KUBECONFIG": cluster.kubeconfig])
        #expect(viaEnv.out == good.out, "\(viaEnv.err)")
        let missing = try Self.exec(["check", "n1", "--kubeconfig", cluster.kubeconfig, "--context", "nope"])
        #expect(missing.status == 2)
        #expect(missing.err.contains("no context \"nope\""), "\(missing.err)")
        let both = try Self.exec(["check", "n1", "--kubeconfig", cluster.kubeconfig] + Self.dump)
        #expect(both.status == 2)
        #expect(both.err.contains("one or the other"), "\(both.err)")
    }

    @Test func noClusterConfigurationSaysWhatToDo() throws {
        let none = try Self.exec(["plan"], environment: ["KUBERNETES_SERVICE_HOST": ""])
        #expect(none.status == 2)
        #expect(none.err.contains("--kubeconfig") && none.err.contains("--state"), "\(none.err)")
    }

    @Test func worksAsAKubectlPlugin() throws {
        guard require(tool: "kubectl") else { return }
        let cluster = try Cluster(current: "stale")
        defer { cluster.fake.stop() }
        let bin = try temporaryDirectory()
        try FileManager.default.createSymbolicLink(atPath: bin + "/kubectl-tmm", withDestinationPath: try webhookExecutable())
        let path = bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let kubectl = try Self.exec(["sh", "-c", "command -v kubectl"], command: "/usr/bin/env").out
            .trimmingCharacters(in: .whitespacesAndNewlines)

        let plugin = try Self.exec(
            ["tmm", "check", "n1", "--kubeconfig", cluster.kubeconfig, "--context", "good"], command: kubectl, environment: ["PATH": path])
        let direct = try Self.exec(["check", "n1", "--kubeconfig", cluster.kubeconfig, "--context", "good"])
        #expect(plugin.status == direct.status, "\(plugin.err)")
        #expect(plugin.out == direct.out)
        #expect(plugin.out.contains("n1"))

        let status = try Self.exec(
            ["tmm", "status", "-o", "json", "--context", "good"], command: kubectl,
            environment: ["PATH": path, "KUBECONFIG": cluster.kubeconfig])
        #expect(status.status == 0, "\(status.err)")
        #expect(try JSON.parse(status.out)["nodesInMaintenance"]?.array?.isEmpty == true)

        let help = try Self.exec(["tmm", "--help"], command: kubectl, environment: ["PATH": path])
        #expect(help.out.contains("USAGE: kubectl tmm"), "\(help.out)")
        let listed = try Self.exec(["plugin", "list"], command: kubectl, environment: ["PATH": path])
        #expect(listed.out.contains(bin + "/kubectl-tmm"), "\(listed.out)\(listed.err)")
    }
}
