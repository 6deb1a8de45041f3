import Foundation
import Testing
import TMMBase
import TMMTestSupport

/// Where the real API server comes from, and whether these tests must run.
enum IntegrationEnvironment {
    /// kube-apiserver: `TMM_KUBE_APISERVER`, else where ../shared/kube-apiserver/install.sh puts it, else PATH.
    static let apiserver: String? = {
        let candidates = [ProcessInfo.processInfo.environment["TMM_KUBE_APISERVER"], "/tmp/kube-apiserver-v1.36.2/kube-apiserver", which("kube-apiserver")]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()
    static let etcd: String? = which("etcd")
    static let kubectl: String? = which("kubectl")

    /// CI with the shared tools next to the package: there a missing API server is a failure, not a skip.
    static var required: Bool {
        ProcessInfo.processInfo.environment["CI"] == "true" && FileManager.default.fileExists(atPath: packageRoot + "/../shared")
    }

    static var missing: [String] {
        [apiserver == nil ? "kube-apiserver (run ../shared/kube-apiserver/install.sh)" : nil,
         etcd == nil ? "etcd (apt-get install etcd-server)" : nil,
         kubectl == nil ? "kubectl" : nil].compactMap { $0 }
    }

    /// Run when everything is there, or when CI requires it (then the missing parts fail the tests).
    static var shouldRun: Bool { missing.isEmpty || required }
}

/// One control plane, the project's RBAC and webhook registration, a small cluster, and the primary
/// webhook process, shared by every test of the suite (they run one at a time). Each test starts from
/// ``baseline()``.
final class Harness: Sendable {
    let plane: ControlPlane
    let webhook: WebhookProcess
    let executable: String
    /// Which URL the registered webhook configuration points at now.
    private let registeredPort = Locked(0)

    static let maintenanceKeys = ["drain", "node.vmware.com/drain", "node.dell.com/drain"]
    /// Nodes w1...w4 carry one `apps/web-*` pod each; q1 carries `quorum/db-0` and `db-1`, under a
    /// budget that needs both (so q1 can never enter).
    static let workers = ["w1", "w2", "w3", "w4"]
    static let nodes = workers + ["q1"]
    static let annotationKey = "emm-failure"

    /// The shared harness, started on first use; its failure is every test's failure.
    static let shared: Result<Harness, any Error> = Result {
        let missing = IntegrationEnvironment.missing
        guard missing.isEmpty else {
            throw HarnessError("the real API server tests cannot run here: missing \(missing.joined(separator: ", ")); in CI, .ci/run installs them")
        }
        let started = ContinuousClock.now
        let harness = try Harness()
        print("integration harness ready in \(String(format: "%.1f", seconds(since: started))) s: API server \(harness.plane.server), webhook \(harness.webhook.url), files in \(harness.plane.directory)")
        return harness
    }

    private init() throws {
        plane = try ControlPlane(apiserverBinary: IntegrationEnvironment.apiserver!, etcdBinary: IntegrationEnvironment.etcd!)
        do {
            try plane.start()
            try plane.waitReady()
            executable = try webhookExecutable()
            webhook = try WebhookProcess(podName: "tmm-webhook-a", plane: plane, executable: executable)
            try applyProjectManifests()
            try createFixture()
            try webhook.start()
            try webhook.waitReady()
            try register(port: webhook.port)
        } catch {
            plane.stop()
            throw error
        }
    }

    // MARK: kubectl

    @discardableResult
    func kubectl(_ arguments: [String], input: String? = nil, timeout: Double = 30) throws -> CommandResult {
        try execute(["kubectl", "--kubeconfig", plane.adminKubeconfig] + arguments, input: input, timeout: timeout)
    }

    /// Runs kubectl and fails the harness when it fails.
    @discardableResult
    func must(_ arguments: [String], input: String? = nil) throws -> CommandResult {
        let result = try kubectl(arguments, input: input)
        guard result.succeeded else { throw HarnessError("kubectl failed: \(result)") }
        return result
    }

    func json(_ arguments: [String]) throws -> [String: Any] {
        let result = try must(arguments + ["-o", "json"])
        guard let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] else {
            throw HarnessError("not a JSON object: \(result)")
        }
        return object
    }

    func apply(_ objects: [[String: Any]]) throws {
        let list: [String: Any] = ["apiVersion": "v1", "kind": "List", "items": objects]
        let text = String(decoding: try JSONSerialization.data(withJSONObject: list), as: UTF8.self)
        try must(["apply", "-f", "-"], input: text)
    }

    // MARK: the project's manifests

    /// `kubectl kustomize deploy/base`, as objects.
    func renderedBase() throws -> [[String: Any]] {
        let rendered = try execute(["kubectl", "kustomize", packageRoot + "/deploy/base"])
        guard rendered.succeeded else { throw HarnessError("kubectl kustomize deploy/base failed: \(rendered)") }
        let converted = try must(["create", "--dry-run=client", "-o", "json", "-f", "-"], input: rendered.stdout)
        return try splitJSONDocuments(converted.stdout)
    }

    /// Applies the base's Namespace, ServiceAccount and RBAC (bound to the webhook's ServiceAccount user;
    /// never cluster-admin).
    private func applyProjectManifests() throws {
        let kinds: Set<String> = ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]
        let objects = try renderedBase().filter { kinds.contains($0["kind"] as? String ?? "") }
        for object in objects where (object["kind"] as? String ?? "").hasSuffix("Binding") {
            let role = (object["roleRef"] as? [String: Any])?["name"] as? String
            guard role != "cluster-admin" else { throw HarnessError("deploy/base binds cluster-admin: \(object)") }
        }
        guard objects.count >= 6 else { throw HarnessError("deploy/base rendered only \(objects.count) RBAC objects") }
        try apply(objects)
    }

    /// Registers the base's ValidatingWebhookConfiguration (rules, matchConditions, timeout, failure
    /// policy as rendered) with `clientConfig` pointing at https://127.0.0.1:PORT/validate, and waits
    /// until the API server calls that port.
    func register(port: Int, seen: (() -> Bool)? = nil) throws {
        guard var configuration = try renderedBase().first(where: { $0["kind"] as? String == "ValidatingWebhookConfiguration" }),
            let webhooks = configuration["webhooks"] as? [[String: Any]], !webhooks.isEmpty
        else { throw HarnessError("deploy/base has no ValidatingWebhookConfiguration with webhooks") }
        let caBundle = try Data(contentsOf: URL(fileURLWithPath: plane.caPath)).base64EncodedString()
        configuration["webhooks"] = webhooks.map { webhook -> [String: Any] in
            var webhook = webhook
            // The service reference goes: the API server must dial loopback only.
            webhook["clientConfig"] = ["url": "https://127.0.0.1:\(port)/validate", "caBundle": caBundle]
            return webhook
        }
        if var metadata = configuration["metadata"] as? [String: Any] {
            metadata.removeValue(forKey: "annotations")
            configuration["metadata"] = metadata
        }
        try apply([configuration])
        registeredPort.withLock { $0 = port }
        // The API server picks the change up from its informer: probe with a server-side dry run (no
        // side effects) until the new endpoint is called.
        let before = webhook.logLines().count
        let calledPrimary = { self.webhook.logLines().dropFirst(before).contains { ($0["dryRun"] as? String) == "true" } }
        let called = seen ?? calledPrimary
        let probed = try waitUntil(timeout: 20, interval: 0.2) {
            try kubectl(["taint", "node", "q1", "drain=planned-downtime:NoSchedule", "--dry-run=server"])
            return called()
        }
        guard probed else { throw HarnessError("the API server does not call the webhook at 127.0.0.1:\(port)") }
    }

    var registeredWebhookPort: Int { registeredPort.withLock { $0 } }

    // MARK: the cluster

    private func createFixture() throws {
        var objects: [[String: Any]] = []
        for name in Self.nodes {
            objects.append([
                "apiVersion": "v1", "kind": "Node",
                "metadata": ["name": name, "labels": ["kubernetes.io/hostname": name, "tmm-test/fixture": "true"]],
            ])
        }
        for ns in ["apps", "quorum"] {
            objects.append(["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": ns]])
        }
        func pod(_ namespace: String, _ name: String, app: String, node: String) -> [String: Any] {
            [
                "apiVersion": "v1", "kind": "Pod",
                "metadata": ["name": name, "namespace": namespace, "labels": ["app": app, "tmm-test/fixture": "true"]],
                "spec": [
                    "nodeName": node, "terminationGracePeriodSeconds": 0,
                    "containers": [["name": "app", "image": "registry.invalid/app:1", "resources": ["requests": ["cpu": "100m", "memory": "64Mi"]]]],
                ],
            ]
        }
        for (i, node) in Self.workers.enumerated() { objects.append(pod("apps", "web-\(i + 1)", app: "web", node: node)) }
        objects.append(pod("quorum", "db-0", app: "db", node: "q1"))
        objects.append(pod("quorum", "db-1", app: "db", node: "q1"))
        objects.append(budget("quorum", "db", app: "db", rule: ["minAvailable": 2], extra: false))
        try apply(objects)
        // The API server taints new nodes not-ready (TaintNodesByCondition); no kubelet will clear it.
        try must(["taint", "nodes", "-l", "tmm-test/fixture=true", "node.kubernetes.io/not-ready:NoSchedule-"])
        let resources = ["cpu": "8", "memory": "16Gi", "pods": "110"]
        let nodeStatus: [String: Any] = [
            "status": [
                "capacity": resources, "allocatable": resources,
                "conditions": [["type": "Ready", "status": "True", "reason": "KubeletReady", "message": "integration test"]],
            ]
        ]
        for name in Self.nodes { try must(["patch", "node", name, "--subresource=status", "--type=merge", "-p", jsonText(nodeStatus)]) }
        for pod in allPods { try setReady(pod, true) }
    }

    static let fixturePods = ["apps/web-1", "apps/web-2", "apps/web-3", "apps/web-4", "quorum/db-0", "quorum/db-1"]
    var allPods: [String] { Self.fixturePods }

    /// A PodDisruptionBudget over `app=<app>` pods; `extra` ones are deleted by ``baseline()``.
    func budget(_ namespace: String, _ name: String, app: String, rule: [String: Any], extra: Bool = true) -> [String: Any] {
        var spec = rule
        spec["selector"] = ["matchLabels": ["app": app]]
        return [
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": ["name": name, "namespace": namespace, "labels": extra ? ["tmm-test/extra": "true"] : [:]],
            "spec": spec,
        ]
    }

    func setReady(_ pod: String, _ ready: Bool) throws {
        let (namespace, name) = split(pod)
        let status: [String: Any] = [
            "status": ["phase": "Running", "conditions": [["type": "Ready", "status": ready ? "True" : "False"]]]
        ]
        try must(["patch", "pod", name, "-n", namespace, "--subresource=status", "--type=merge", "-p", jsonText(status)])
    }

    /// Back to the starting point: API server and primary webhook up and registered, no maintenance
    /// taint, no cordon, no extra budget, every pod Ready and unannotated, no admitted-entries Lease.
    func baseline() throws {
        if !plane.apiServerRunning {
            try plane.startAPIServer()
        }
        try plane.waitReady()
        if !webhook.isRunning { try webhook.start() }
        try webhook.waitReady()
        if registeredWebhookPort != webhook.port { try register(port: webhook.port) }
        let nodes = (try json(["get", "nodes", "-l", "tmm-test/fixture=true"])["items"] as? [[String: Any]]) ?? []
        for node in nodes {
            let name = (node["metadata"] as? [String: Any])?["name"] as? String ?? ""
            for key in maintenanceTaints(node).keys { try must(["taint", "node", name, "\(key)-"]) }
            if (node["spec"] as? [String: Any])?["unschedulable"] as? Bool == true { try must(["uncordon", name]) }
        }
        try must(["delete", "pdb", "-A", "-l", "tmm-test/extra=true", "--wait=false"])
        let pods = (try json(["get", "pods", "-A", "-l", "tmm-test/fixture=true"])["items"] as? [[String: Any]]) ?? []
        for pod in pods {
            let metadata = pod["metadata"] as? [String: Any] ?? [:]
            let id = "\(metadata["namespace"] as? String ?? "")/\(metadata["name"] as? String ?? "")"
            if !isReady(pod) { try setReady(id, true) }
        }
        for ns in ["apps", "quorum"] {
            try must(["annotate", "pods", "--all", "-n", ns, "\(Self.annotationKey)-", "tmm-webhook.io/emm-failure-at-"])
        }
        try must(["delete", "lease", "-n", "tmm-system", "tmm-webhook-entries", "--ignore-not-found"])
    }

    func stop() {
        webhook.stop(signal: SIGKILL)
        plane.stop()
    }

    // MARK: reading the cluster

    /// The node's maintenance taints, key -> value.
    func maintenanceTaints(_ node: [String: Any]) -> [String: String] {
        let taints = (node["spec"] as? [String: Any])?["taints"] as? [[String: Any]] ?? []
        var found: [String: String] = [:]
        for taint in taints where Self.maintenanceKeys.contains(taint["key"] as? String ?? "") && taint["effect"] as? String == "NoSchedule" {
            found[taint["key"] as! String] = taint["value"] as? String ?? ""
        }
        return found
    }

    func maintenanceTaints(of node: String) throws -> [String: String] { maintenanceTaints(try json(["get", "node", node])) }

    func isReady(_ pod: [String: Any]) -> Bool {
        let conditions = (pod["status"] as? [String: Any])?["conditions"] as? [[String: Any]] ?? []
        return conditions.contains { $0["type"] as? String == "Ready" && $0["status"] as? String == "True" }
    }

    /// `emm-failure` annotations on the fixture pods: "namespace/name" -> value.
    func failureAnnotations() throws -> [String: String] {
        let pods = (try json(["get", "pods", "-A", "-l", "tmm-test/fixture=true"])["items"] as? [[String: Any]]) ?? []
        var found: [String: String] = [:]
        for pod in pods {
            let metadata = pod["metadata"] as? [String: Any] ?? [:]
            if let value = (metadata["annotations"] as? [String: String])?[Self.annotationKey] {
                found["\(metadata["namespace"] as? String ?? "")/\(metadata["name"] as? String ?? "")"] = value
            }
        }
        return found
    }

    /// Events about a node (in `default`, where the webhook records them): (name, reason, message).
    func events(onNode node: String) throws -> [(name: String, reason: String, message: String)] {
        let items = (try json(["get", "events", "-n", "default", "--field-selector", "involvedObject.name=\(node)"])["items"] as? [[String: Any]]) ?? []
        return items.map {
            (($0["metadata"] as? [String: Any])?["name"] as? String ?? "", $0["reason"] as? String ?? "", $0["message"] as? String ?? "")
        }
    }

    /// The admitted-entries Lease's resourceVersion, nil when it does not exist.
    func leaseVersion() throws -> String? {
        let result = try kubectl(["get", "lease", "-n", "tmm-system", "tmm-webhook-entries", "-o", "jsonpath={.metadata.resourceVersion}"])
        if !result.succeeded && result.stderr.contains("NotFound") { return nil }
        guard result.succeeded else { throw HarnessError("cannot read the Lease: \(result)") }
        return result.stdout
    }

    // MARK: maintenance through kubectl

    /// `kubectl taint node NODE drain=LEVEL:NoSchedule` (with --overwrite for an escalation).
    func enter(_ node: String, level: String = "planned-downtime", dryRun: Bool = false, overwrite: Bool = false) throws -> CommandResult {
        try kubectl(["taint", "node", node, "drain=\(level):NoSchedule"] + (dryRun ? ["--dry-run=server"] : []) + (overwrite ? ["--overwrite"] : []))
    }

    /// `kubectl taint node NODE drain-`.
    func exit(_ node: String) throws -> CommandResult { try kubectl(["taint", "node", node, "drain-"]) }

    /// An AdmissionReview for an UPDATE of `node` as it is now, adding (`entering`) or removing the
    /// `drain=LEVEL:NoSchedule` taint: what the API server would send, but from nobody.
    func forgedReview(node: String, entering: Bool, level: String = "planned-downtime") throws -> [String: Any] {
        var current = try json(["get", "node", node])
        var spec = current["spec"] as? [String: Any] ?? [:]
        var taints = (spec["taints"] as? [[String: Any]] ?? []).filter { $0["key"] as? String != "drain" }
        spec["taints"] = taints
        current["spec"] = spec
        let without = current
        taints.append(["key": "drain", "value": level, "effect": "NoSchedule"])
        spec["taints"] = taints
        current["spec"] = spec
        let with = current
        return [
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": [
                "uid": UUID().uuidString.lowercased(),
                "kind": ["group": "", "version": "v1", "kind": "Node"],
                "resource": ["group": "", "version": "v1", "resource": "nodes"],
                "requestKind": ["group": "", "version": "v1", "kind": "Node"],
                "requestResource": ["group": "", "version": "v1", "resource": "nodes"],
                "name": node, "operation": "UPDATE",
                "userInfo": ["username": "mallory", "groups": ["system:authenticated"]],
                "object": entering ? with : without, "oldObject": entering ? without : with,
                "dryRun": false,
            ] as [String: Any],
        ]
    }
}

/// True when kubectl failed because the webhook denied the request with `reason`.
func denied(_ result: CommandResult, _ reason: String) -> Bool {
    !result.succeeded && result.output.contains("Forbidden") && result.output.contains("denied the request: \(reason)")
}

func split(_ pod: String) -> (String, String) {
    let parts = pod.split(separator: "/", maxSplits: 1).map(String.init)
    return (parts[0], parts[1])
}

func jsonText(_ object: Any) throws -> String { String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self) }

/// Splits concatenated JSON documents (`kubectl create -o json` of several objects) into objects.
func splitJSONDocuments(_ text: String) throws -> [[String: Any]] {
    var documents: [[String: Any]] = []
    let bytes = Array(text.utf8)
    var depth = 0, start = -1, inString = false, escaped = false
    for (i, byte) in bytes.enumerated() {
        if inString {
            if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
            continue
        }
        switch byte {
        case UInt8(ascii: "\""): inString = true
        case UInt8(ascii: "{"):
            if depth == 0 { start = i }
            depth += 1
        case UInt8(ascii: "}"):
            depth -= 1
            if depth == 0, start >= 0 {
                let object = try JSONSerialization.jsonObject(with: Data(bytes[start...i]))
                if let list = object as? [String: Any], list["kind"] as? String == "List", let items = list["items"] as? [[String: Any]] {
                    documents += items
                } else if let dictionary = object as? [String: Any] {
                    documents.append(dictionary)
                }
                start = -1
            }
        default: break
        }
    }
    return documents
}
