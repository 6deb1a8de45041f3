import Glibc
import Logging
import Synchronization
public import TMMBase
import TMMJSON
public import TMMKube
public import TMMPolicy

/// Writes and removes the failure annotation on pods through the API server: merge patches, several at
/// a time, retried on 409/429/5xx and transport errors until the deadline. A pod that is gone (404) is
/// fine. Alongside the reason it records when it was written, for the reconciler's grace period.
public struct PodAnnotator: Sendable {
    public let client: KubeClient
    /// How many patches are in flight at once: as many as the client keeps idle connections (32 by
    /// default), so each patch of a refusal finds its connection open instead of paying a TLS handshake.
    /// A refusal patches every pod of its node (30 on a typical node) before the webhook answers, and the
    /// API server and etcd work on concurrent patches together (one etcd sync for several writes): with
    /// 30 pods a node, 32 in flight took the 30 patches in 110–215 ms at the median where 8 took
    /// 191–253 ms (20 refusals per run, alternating runs on the same loaded machine;
    /// `bench/real-apiserver.py --nodes 100 --pods 3000`, `annotateMs`).
    public var parallelism: Int

    public init(client: KubeClient) {
        self.client = client
        self.parallelism = max(1, client.options.maxIdleConnections)
    }
    public static let writtenAtKey = "tmm-webhook.io/emm-failure-at"

    public struct Outcome: Sendable, Equatable {
        public var patched = 0
        public var gone = 0
        public var failed = 0
        /// How long each pod's write took, first try to last (in the order they finished).
        public var durations: [Duration] = []
        /// Writes tried again (409, 429, 5xx, a broken connection).
        public var retries = 0
        /// The patches applied: the resourceVersion each answer gave the pod, and when it was read.
        public var written: [AnsweredWrite] = []
        public var total: Int { patched + gone + failed }
    }

    /// Sets `key` to `value` (or removes it when nil) on every pod; returns what happened.
    public func annotate(_ pods: [PodRef], key: String, value: String?, now: Int64, deadline: Deadline) -> Outcome {
        guard !pods.isEmpty else { return Outcome() }
        let patch: JSON = [
            "metadata": [
                "annotations": [
                    key: value.map { JSON.string($0) } ?? .null,
                    Self.writtenAtKey: value == nil ? .null : .string(String(now)),
                ]
            ]
        ]
        let body = Array(patch.serialized.utf8)  // the same for every pod: serialized once
        let next = Atomic<Int>(0)
        let outcome = Locked(Outcome())
        let workers = min(parallelism, pods.count)
        let threads = (0..<workers).map { i in
            startThread(name: "tmm-patch-\(i)") {
                while true {
                    let index = next.add(1, ordering: .relaxed).oldValue
                    if index >= pods.count { return }
                    let started = Deadline.now()
                    let (result, retries) = patchOne(pods[index], body: body, deadline: deadline)
                    let answered = Deadline.now()
                    outcome.withLock { o in
                        o.durations.append(answered - started)
                        o.retries += retries
                        switch result {
                        case .patched(let version):
                            o.patched += 1
                            if let version { o.written.append(AnsweredWrite(resourceVersion: version, answeredAt: answered)) }
                        case .gone: o.gone += 1
                        case .failed: o.failed += 1
                        }
                    }
                }
            }
        }
        for thread in threads { thread.join() }
        return outcome.withLock { $0 }
    }

    enum Result {
        /// With the resourceVersion the answer gave the pod.
        case patched(UInt64?)
        case gone, failed
    }

    /// Patches one pod; returns what happened and how many times it was tried again.
    private func patchOne(_ pod: PodRef, body: [UInt8], deadline: Deadline) -> (Result, Int) {
        var attempt = 0
        while !deadline.hasPassed() {
            do throws(KubeError) {
                let version = try client.patch("/api/v1/namespaces/\(pod.namespace)/pods/\(pod.name)", mergePatchBody: body, deadline: deadline)
                return (.patched(version), attempt)
            } catch {
                if error.isNotFound { return (.gone, attempt) }
                guard error.isRetryable || error.isConflict else { return (.failed, attempt) }
                attempt += 1
                let pause = min(.milliseconds(25) * (1 << min(attempt, 5)), Duration.milliseconds(500))
                if Deadline.now() + pause >= deadline { return (.failed, attempt) }
                usleep(UInt32(pause.totalNanoseconds / 1000))
            }
        }
        return (.failed, attempt)
    }
}
