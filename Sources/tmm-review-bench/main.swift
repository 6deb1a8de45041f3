// tmm-review-bench: the CPU an allow-path review costs inside the webhook, without TLS or sockets: the
// AdmissionReview parsed (the whole body validated), the update classified and the answer written, as
// `AdmissionReviewer.review` does for every request that changes no maintenance taint.
//
//   python3 bench/make-review.py label > /tmp/review.json
//   swift run -c release tmm-review-bench /tmp/review.json [ITERATIONS]
//
// Prints the thread CPU time per review (median of 9 batches, and the fastest batch): a figure a busy
// or noisy machine moves far less than requests per second over TLS (bench/compare.sh), so two builds
// can be compared by it.
import Foundation
import Logging
import TMMAdmission
import TMMBase

/// Entries never reach it here: the benchmark's review changes no maintenance taint.
struct NoEntries: EntryDecider {
    func decide(_ entry: EntryRequest, completion: @escaping @Sendable (AdmissionDecision) -> Void) {
        completion(AdmissionDecision(allowed: false, message: "the benchmark sent an entry"))
    }
    func exitAnswered(_ request: AdmissionRequest) {}
}

func threadCPU() -> Duration {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return .seconds(ts.tv_sec) + .nanoseconds(ts.tv_nsec)
}

let arguments = CommandLine.arguments
guard arguments.count >= 2, let body = FileManager.default.contents(atPath: arguments[1]) else {
    FileHandle.standardError.write(Data("usage: tmm-review-bench REVIEW.json [ITERATIONS]\n".utf8))
    exit(2)
}
let iterations = arguments.count >= 3 ? Int(arguments[2]) ?? 20_000 : 20_000
var logger = Logger(label: "bench")
logger.logLevel = .critical
let reviewer = AdmissionReviewer(decider: NoEntries(), logger: logger)
let bytes = [UInt8](body)

final class Sink: @unchecked Sendable {  // written and read on this thread only
    var status = 0
    var length = 0
}
let sink = Sink()
func reviewOnce() {
    bytes.withUnsafeBytes { raw in
        reviewer.review(raw, now: .now(), deadline: .now() + .seconds(10)) { answer in
            sink.status = answer.status
            sink.length = answer.body.count
        }
    }
}

reviewOnce()
guard sink.status == 200 else {
    FileHandle.standardError.write(Data("the review was answered \(sink.status), not 200\n".utf8))
    exit(1)
}
for _ in 0..<(iterations / 10) { reviewOnce() }  // warm-up
var perReview: [Double] = []
let batch = max(1, iterations / 9)
for _ in 0..<9 {
    let start = threadCPU()
    for _ in 0..<batch { reviewOnce() }
    let spent = threadCPU() - start
    let microseconds = Double(spent.components.seconds) * 1e6 + Double(spent.components.attoseconds) / 1e12
    perReview.append(microseconds / Double(batch))
}
perReview.sort()
print(
    "review of \(bytes.count) bytes, \(batch * 9) reviews: median \(String(format: "%.2f", perReview[4])) us, fastest batch \(String(format: "%.2f", perReview[0])) us of thread CPU per review; answer \(sink.length) bytes"
)
