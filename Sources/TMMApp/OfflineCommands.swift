import Dispatch
public import Logging
import TMMAdmission
import TMMBase
public import TMMPolicy

/// `tmm-webhook review`: the AdmissionReview answer the server would give, from a snapshot.
public enum OfflineReview {
    /// The HTTP status and JSON body for `body`, decided against `state` (nil: state unknown).
    public static func review(body: [UInt8], state: ClusterState?, config: PolicyConfig, logger: Logger) -> (status: Int, body: [UInt8]) {
        let backend = MemoryBackend(
            state: state, unknownReason: "no cluster state was given (--state FILE)", taintKeys: config.taintKeys, logger: logger)
        let decider = EntryPipeline(backend: backend, config: config, logger: logger, metrics: nil)
        let reviewer = AdmissionReviewer(taintKeys: config.taintKeys, decider: decider, logger: logger)
        let answer = Locked<(Int, [UInt8])?>(nil)
        let done = DispatchSemaphore(value: 0)
        body.withUnsafeBytes { buffer in
            reviewer.review(buffer, now: .now(), deadline: .distantFuture) { result in
                answer.withLock { $0 = (result.status, result.body) }
                done.signal()
            }
        }
        done.wait()
        return answer.withLock { $0! }
    }
}
