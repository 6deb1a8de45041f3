import ArgumentParser
import Glibc
import Logging
import TMMApp
import TMMJSON
import TMMKube
import TMMPolicy
import TMMTransport

/// Where `check`, `review`, `plan` and `status` get the cluster from: snapshot files (`--state`), or the
/// live cluster (kubeconfig as kubectl finds it, or in-cluster) when none is given.
struct ClusterOptions: ParsableArguments {
    @Option(help: "Cluster state: kubectl get nodes,pods,pdb,pv,pvc -A -o json output, or list bodies; repeatable (env TMM_STATE, comma-separated). Without it, the live cluster is read.")
    var state: [String] = []

    @Option(help: "Policy YAML (env TMM_CONFIG). Default: with --state, the defaults; live, the webhook's ConfigMap tmm-webhook-policy, else the defaults.")
    var config: String?

    @Option(help: "Kubeconfig for the live cluster (else KUBECONFIG, else ~/.kube/config, else in-cluster).")
    var kubeconfig: String?

    @Option(help: "The kubeconfig context to use instead of its current-context.")
    var context: String?

    @Option(help: "The webhook's namespace, where its Lease and policy ConfigMap live (env TMM_NAMESPACE; default tmm-system).")
    var namespace: String?

    /// The cluster, the policy and the entries the webhook has admitted but the cluster does not show yet.
    struct Loaded {
        var state: ClusterState
        var config: PolicyConfig
        var pending: [AdmittedEntry] = []
        var policySource: String
        var live: LiveCluster?
    }

    /// Loads from the files, or from the live cluster; notes go to standard error so that standard output
    /// is the same either way.
    func load(nodesAsJSON: Bool = false) throws -> Loaded {
        let statePaths = try state.isEmpty ? (Setting.resolve(nil, flag: "--state", env: "TMM_STATE", Setting.list) ?? []) : state
        let configPath = try Setting.resolve(config, flag: "--config", env: "TMM_CONFIG", Setting.text)
        if !statePaths.isEmpty {
            if kubeconfig != nil || context != nil {
                throw WebhookServer.StartupError("--state reads a snapshot; --kubeconfig and --context read the live cluster: give one or the other")
            }
            let config = try loadPolicy(configPath)
            return Loaded(
                state: try loadState(statePaths), config: config, policySource: configPath.map { "file \($0)" } ?? "defaults")
        }
        let namespace = try Setting.resolve(
            namespace, flag: "--namespace", env: "TMM_NAMESPACE", default: LiveCluster.defaultNamespace, Setting.text)
        let live = try connect(namespace: namespace)
        for warning in live.warnings { note("warning: \(warning)") }
        do {
            return try read(live, configPath: configPath)
        } catch let error as KubeError {
            throw WebhookServer.StartupError("cannot read the cluster (\(live.client.config.source)): \(error.message)")
        }
    }

    private func connect(namespace: String) throws -> LiveCluster {
        do throws(KubeError) {
            return try LiveCluster(kubeconfig: kubeconfig, context: context, namespace: namespace)
        } catch {
            throw WebhookServer.StartupError("\(error.message)\n(or give a snapshot: --state FILE, e.g. from kubectl get nodes,pods,pdb,pv,pvc -A -o json)")
        }
    }

    private func read(_ live: LiveCluster, configPath: String?) throws -> Loaded {
        let config: PolicyConfig
        let source: String
        if let configPath {
            config = try loadPolicy(configPath)
            source = "file \(configPath)"
        } else {
            let (installed, from) = try live.installedPolicy()
            config = installed
            switch from {
            case .configMap(let name): source = "ConfigMap \(name)"
            case .defaults(let why):
                source = "defaults (\(why))"
                note("note: using the default policy: \(why); pass --config FILE or --namespace to choose")
            }
        }
        let pending = try pendingEntries(live)
        let kept = ClusterState.defaultKeptAnnotationKeys.union([config.annotationKey])
        let state = try live.state(keptAnnotationKeys: kept)
        return Loaded(state: state, config: config, pending: pending, policySource: source, live: live)
    }

    /// The Lease's entries; none, with a note, when RBAC refuses the Lease.
    private func pendingEntries(_ live: LiveCluster) throws(KubeError) -> [AdmittedEntry] {
        do throws(KubeError) {
            return try live.admittedEntries(now: Int64(time(nil)))
        } catch {
            guard error.isForbidden else { throw error }
            note("note: the Lease \(live.namespace)/\(LiveCluster.leaseName) may not be read; admitted entries not yet visible are not counted")
            return []
        }
    }
}

/// A note for the operator on standard error.
func note(_ text: String) { FileHandleStderr.write(text + "\n") }

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// `--level` of check and plan.
enum LevelArgument: String, ExpressibleByArgument, CaseIterable {
    case plannedDowntime = "planned-downtime", drain
    case noExecute = "NoExecute"

    var level: MaintenanceLevel {
        switch self {
        case .plannedDowntime: return .plannedDowntime
        case .drain: return .drain
        case .noExecute: return .evict
        }
    }
}

/// Runs `body`, turning startup errors and bad settings into exit code 2 with the message on standard error.
func exitingOnError<T>(_ body: () throws -> T) throws -> T {
    do {
        return try settingOrExit(body)
    } catch let error as WebhookServer.StartupError {
        FileHandleStderr.write("\(programName): \(error.description)\n")
        throw ExitCode(2)
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Would NODE be allowed to enter maintenance now, and why. Exit 0 allowed, 1 denied, 2 error.",
        discussion: "Reads the live cluster unless --state is given; live, entries the webhook admitted and the cluster does not show yet count too.")

    @Argument(help: "The node to check.")
    var node: String

    @Option(help: "The maintenance level asked for: planned-downtime (pods with a volume local to the node wait for it), drain (every pod must leave) or NoExecute (every pod is evicted at once; decided as drain).")
    var level: LevelArgument = .plannedDowntime

    @OptionGroup var cluster: ClusterOptions

    @Option(name: [.customShort("o"), .long], help: "text or json.")
    var output: OutputFormat = .text

    func run() throws {
        let loaded = try exitingOnError { try cluster.load() }
        let pending = Set(loaded.pending.map(\.node))
        let report = CheckReport.make(
            node: node, state: loaded.state, engine: PolicyEngine(config: loaded.config), pendingEntries: pending, level: level.level)
        print(output == .json ? report.json : report.text)
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }
}

struct Review: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the AdmissionReview response the server would give to a request (FILE or - for stdin).")

    @Argument(help: "An AdmissionReview request (JSON); - reads standard input.")
    var file: String = "-"

    @OptionGroup var cluster: ClusterOptions

    func run() throws {
        let loaded = try exitingOnError { try cluster.load() }
        let body: [UInt8]
        if file == "-" {
            var bytes: [UInt8] = []
            while let line = readLine(strippingNewline: false) { bytes += Array(line.utf8) }
            body = bytes
        } else {
            body = try exitingOnError {
                do { return try readFile(file) } catch { throw WebhookServer.StartupError("\(error)") }
            }
        }
        var logger = Logger(label: "tmm-webhook")
        logger.logLevel = .error
        let (status, response) = OfflineReview.review(body: body, state: loaded.state, config: loaded.config, logger: logger)
        print(String(decoding: response, as: UTF8.self), terminator: "")
        if status != 200 { throw ExitCode(2) }
    }
}

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A safe rolling order for taking every node through maintenance, in waves of at most maxNodesInMaintenance.",
        discussion: "Reads the live cluster unless --state is given.")

    @OptionGroup var cluster: ClusterOptions

    @Option(help: "The maintenance level of every entry: planned-downtime, drain or NoExecute.")
    var level: LevelArgument = .plannedDowntime

    @Option(name: [.customShort("o"), .long], help: "text or json.")
    var output: OutputFormat = .text

    func run() throws {
        let loaded = try exitingOnError { try cluster.load() }
        let plan = RolloutPlan.make(state: loaded.state, engine: PolicyEngine(config: loaded.config), level: level.level)
        print(output == .json ? plan.json : plan.text)
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "What is in maintenance now: nodes (and since when), admitted entries still pending in the webhook's Lease, and pods carrying the failure annotation with their reason.",
        discussion: "Reads the live cluster unless --state is given (a snapshot has no Lease: no pending entries).")

    @OptionGroup var cluster: ClusterOptions

    @Option(name: [.customShort("o"), .long], help: "text or json.")
    var output: OutputFormat = .text

    func run() throws {
        let loaded = try exitingOnError { try cluster.load() }
        let report = try exitingOnError { () throws -> MaintenanceStatus in
            let now = Int64(time(nil))
            let nodes: [JSON]
            if let live = loaded.live {
                do {
                    nodes = try live.items(of: "/api/v1/nodes")
                } catch {
                    throw WebhookServer.StartupError("cannot list nodes: \(error)")
                }
            } else {
                nodes = try snapshotNodes(cluster.state.isEmpty ? (Setting.environment("TMM_STATE").map { try Setting.list($0) } ?? []) : cluster.state)
            }
            let lease = loaded.live.map { "\($0.namespace)/\(LiveCluster.leaseName)" } ?? "none (snapshot)"
            return MaintenanceStatus.make(
                nodes: nodes, entries: loaded.pending, pods: loaded.state, config: loaded.config, policySource: loaded.policySource,
                lease: lease, now: now)
        }
        print(output == .json ? report.json : report.text, terminator: "")
    }

    /// The Node objects of snapshot files (their taints' `timeAdded` is not kept in a ClusterState).
    func snapshotNodes(_ paths: [String]) throws -> [JSON] {
        var nodes: [JSON] = []
        for path in paths {
            let document: JSON
            do {
                document = try JSON.parse(try readFile(path))
            } catch {
                throw WebhookServer.StartupError("cannot read \(path): \(error)")
            }
            let items = document["items"]?.array ?? [document]
            for item in items {
                let kind = item["kind"]?.string ?? document["kind"]?.string.map { $0 == "NodeList" ? "Node" : $0 }
                if kind == "Node" || (kind == nil && item.value(at: "status", "nodeInfo") != nil) { nodes.append(item) }
            }
        }
        return nodes
    }
}
