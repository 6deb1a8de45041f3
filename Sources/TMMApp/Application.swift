import Logging
import TMMAdmission
public import TMMPolicy
import TMMTransport

/// The webhook's parts for one configuration: the policy, the cluster state, and the reviewer.
struct Application {
    var reviewer: AdmissionReviewer
    var readyAtStart: Bool
    var stateDescription: String
    /// Watches the policy file, when one was given.
    var policyReloader: PolicyReloader?

    static func make(options: ServeOptions, readiness: Readiness, metrics: WebhookMetrics, logger: Logger) throws -> Application {
        let config = try loadPolicy(options.configPath)
        let decider: SnapshotEntryDecider
        let description: String
        if options.statePaths.isEmpty {
            let reason = "no cluster state is configured (start with --state FILE, or in a cluster)"
            decider = SnapshotEntryDecider(config: config, state: nil, unknownReason: reason, logger: logger, metrics: metrics)
            description = "none: entries are decided as unknown state (\(config.failClosed ? "denied, GenericFailure" : "allowed, failClosed: false"))"
            logger.warning("\(reason); entries will be \(config.failClosed ? "denied with GenericFailure" : "allowed")")
        } else {
            let state = try loadState(options.statePaths)
            decider = SnapshotEntryDecider(config: config, state: state, unknownReason: "", logger: logger, metrics: metrics)
            description = "snapshot \(options.statePaths.joined(separator: ",")) (\(state.nodeCount) nodes, \(state.podCount) pods, \(state.budgetCount) budgets)"
        }
        let reviewer = AdmissionReviewer(taintKeysProvider: { decider.config.taintKeys }, decider: decider, logger: logger) {
            metrics.decided(transition: $0, allowed: $1, reason: $2)
        }
        let reloader = options.configPath.map { path in
            PolicyReloader(
                path: path, initialContents: (try? readFile(path)) ?? [], interval: options.certificateCheckInterval,
                logger: logger, metrics: metrics
            ) { decider.update(config: $0) }
        }
        return Application(reviewer: reviewer, readyAtStart: true, stateDescription: description, policyReloader: reloader)
    }
}

/// Reads the policy file, or the defaults when none is given.
public func loadPolicy(_ path: String?) throws -> PolicyConfig {
    guard let path else { return .default }
    let bytes: [UInt8]
    do {
        bytes = try readFile(path)
    } catch {
        throw WebhookServer.StartupError("cannot read the policy: \(error)")
    }
    do {
        return try PolicyConfig.load(yaml: String(decoding: bytes, as: UTF8.self))
    } catch {
        throw WebhookServer.StartupError("invalid policy \(path): \(error)")
    }
}

/// Loads cluster state files (`kubectl get nodes,pods,pdb -A -o json` output or list bodies), merged in order.
public func loadState(_ paths: [String]) throws -> ClusterState {
    var documents: [[UInt8]] = []
    for path in paths {
        do {
            documents.append(try readFile(path))
        } catch {
            throw WebhookServer.StartupError("cannot read the state: \(error)")
        }
    }
    do {
        return try ClusterState.load(from: documents)
    } catch {
        throw WebhookServer.StartupError("invalid state in \(paths.joined(separator: ", ")): \(error)")
    }
}
