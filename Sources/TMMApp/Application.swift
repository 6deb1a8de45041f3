import Glibc
import Logging
import TMMAdmission
import TMMBase
import TMMKube
public import TMMPolicy
import TMMTransport

/// The webhook's parts for one configuration: the policy, the cluster state, and the reviewer.
struct Application {
    var reviewer: AdmissionReviewer
    var readyAtStart: Bool
    var stateDescription: String
    /// Watches the policy file, when one was given.
    var policyReloader: PolicyReloader?
    /// Live mode: the watch cache and the reconciler, started with the server.
    var cache: WatchCache<ClusterStore>?
    var reconciler: PeriodicTask?

    func start(readiness: Readiness) {
        policyReloader?.start()
        cache?.start()
        reconciler?.start()
        if let cache {
            // /readyz turns true at the first full sync.
            startThread(name: "tmm-readiness") {
                while !cache.isSynced { usleep(50_000) }
                readiness.set(ready: true)
            }.detach()
        }
    }

    func stop() {
        policyReloader?.stop()
        reconciler?.stop()
        cache?.stop()
    }

    static func make(options: ServeOptions, readiness: Readiness, metrics: WebhookMetrics, logger: Logger) throws -> Application {
        let config = try loadPolicy(options.configPath)
        let onDecision: @Sendable (String, Bool, String) -> Void = { metrics.decided(transition: $0, allowed: $1, reason: $2) }
        let reloaderFor:
            (@escaping @Sendable (String) -> Void, @escaping @Sendable (PolicyConfig) -> Void) -> PolicyReloader? = {
                rejected, apply in
                options.configPath.map { path in
                    PolicyReloader(
                        path: path, initialContents: (try? readFile(path)) ?? [], interval: options.certificateCheckInterval,
                        logger: logger, metrics: metrics, onRejected: rejected, apply: apply)
                }
            }
        if options.statePaths.isEmpty, let kube = try liveConfiguration(options, logger: logger) {
            let client: KubeClient
            do {
                client = try KubeClient(config: kube)
            } catch {
                throw WebhookServer.StartupError("cannot set up the Kubernetes client: \(error)")
            }
            var settings = LiveBackend.Settings()
            settings.namespace = options.namespace ?? kube.namespace ?? "tmm-system"
            settings.podName = options.podName ?? hostName()
            settings.freshnessWait = options.freshnessWait
            settings.annotationRefresh = min(settings.annotationRefresh, options.annotationGrace / 2)
            var cacheSettings = WatchCache<ClusterStore>.Settings()
            cacheSettings.quietAfter = options.freshnessQuiet
            let backend = LiveBackend(
                client: client, config: config, settings: settings, cacheSettings: cacheSettings, logger: logger,
                onWriteDelivered: { resource, delay in metrics.writeDelivered(resource: resource.name, delay: delay) }
            ) { resource, status in
                metrics.cacheActivity(resource: resource.name, status: status)
            }
            let decider = EntryPipeline(backend: backend, config: config, logger: logger, metrics: metrics)
            let reviewer = AdmissionReviewer(
                taintKeysProvider: { decider.config.taintKeys }, decider: decider, logger: logger, onDecision: onDecision)
            let grace = options.annotationGrace
            let reconciler = PeriodicTask(name: "tmm-reconcile", interval: .seconds(60)) {
                backend.keepConnectionsWarm()
                decider.reconcile(grace: grace)
            }
            startThread(name: "tmm-kube-warm") { backend.keepConnectionsWarm() }.detach()
            return Application(
                reviewer: reviewer, readyAtStart: false,
                stateDescription: "live: \(kube.source) \(kube.host):\(kube.port), namespace \(settings.namespace)",
                policyReloader: reloaderFor({ backend.policyRejected($0, configMap: options.policyConfigMap) }) {
                    decider.update(config: $0)
                },
                cache: backend.cache, reconciler: reconciler)
        }
        let state: ClusterState?
        let description: String
        let reason = "no cluster state is configured (start with --state FILE, --kubeconfig FILE, or in a cluster)"
        if options.statePaths.isEmpty {
            state = nil
            description = "none: entries are decided as unknown state (\(config.failClosed ? "denied, GenericFailure" : "allowed, failClosed: false"))"
            logger.warning("\(reason); entries will be \(config.failClosed ? "denied with GenericFailure" : "allowed")")
        } else {
            let loaded = try loadState(options.statePaths)
            state = loaded
            description = "snapshot \(options.statePaths.joined(separator: ",")) (\(loaded.nodeCount) nodes, \(loaded.podCount) pods, \(loaded.budgetCount) budgets)"
        }
        let backend = MemoryBackend(state: state, unknownReason: reason, taintKeys: config.taintKeys, logger: logger)
        let decider = EntryPipeline(backend: backend, config: config, logger: logger, metrics: metrics)
        let reviewer = AdmissionReviewer(
            taintKeysProvider: { decider.config.taintKeys }, decider: decider, logger: logger, onDecision: onDecision)
        return Application(
            reviewer: reviewer, readyAtStart: true, stateDescription: description,
            policyReloader: reloaderFor({ _ in }) { decider.update(config: $0) })
    }

    /// The Kubernetes configuration for live mode, or nil when there is none to use (no flag, no
    /// KUBECONFIG, not in a pod). A configuration that is given but broken is a startup error.
    static func liveConfiguration(_ options: ServeOptions, logger: Logger) throws -> KubeConfig? {
        let environment = KubeConfig.processEnvironment()
        let given = options.kubeconfig != nil || environment["KUBECONFIG"] != nil || environment["KUBERNETES_SERVICE_HOST"] != nil
        guard given else { return nil }
        do {
            let config = try KubeConfig.load(kubeconfigPath: options.kubeconfig, environment: environment)
            for warning in config.warnings { logger.warning("\(warning)") }
            return config
        } catch {
            throw WebhookServer.StartupError("\(error)")
        }
    }
}

func hostName() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count) == 0 else { return "tmm-webhook" }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
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
