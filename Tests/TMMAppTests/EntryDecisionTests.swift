import TMMTestSupport
import Foundation
import Logging
import Testing
@testable import TMMApp
import TMMAdmission
import TMMBase
import TMMJSON
import TMMPolicy
import TMMTransport

/// The fixture cluster (n1..n3, store/db-0..2, budget store/db minAvailable 2) as the API server listed it.
func fixtureState() throws -> ClusterState {
    try ClusterState.load(from: [try fixture("list-nodes.json"), try fixture("list-pods.json"), try fixture("list-pdbs.json")])
}

/// An entry request for `node`, made from the real `kubectl taint` request by renaming the node.
func entryBody(node: String, uid: String, dryRun: Bool = false) throws -> [UInt8] {
    let raw = try fixture("admission-request-enter.http")
    var text = String(decoding: raw[(raw.firstIndex(of: UInt8(ascii: "{"))!)...], as: UTF8.self)
    text = text.replacingOccurrences(of: "\"n2\"", with: "\"\(node)\"")
    text = text.replacingOccurrences(of: "7da37444-e951-40c6-a366-9d8bbb0ee11c", with: uid)
    if dryRun { text = text.replacingOccurrences(of: "\"dryRun\":false", with: "\"dryRun\":true") }
    return Array(text.utf8)
}

/// The pipeline over an in-memory state, as `serve --state` builds it.
func snapshotDecider(config: PolicyConfig, state: ClusterState?, unknownReason: String) -> EntryPipeline<MemoryBackend> {
    let backend = MemoryBackend(state: state, unknownReason: unknownReason, taintKeys: config.taintKeys, logger: quietLogger())
    return EntryPipeline(backend: backend, config: config, logger: quietLogger(), metrics: nil)
}

func quietLogger() -> Logger {
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    return logger
}

@Suite struct EntryDecisionTests {
    func decide(_ decider: EntryPipeline<MemoryBackend>, _ body: [UInt8]) throws -> AdmissionDecision {
        let request = try body.withUnsafeBytes { try AdmissionRequest.parse($0) }
        let transition = Transition.classify(old: request.oldTaints, new: request.newTaints, taintKeys: ["drain"])
        return decider.decideNow(EntryRequest(request: request, transition: transition, deadline: .distantFuture))
    }

    @Test func admitsTheFirstEntryAndDeniesASecondWithAnnotations() throws {
        let decider = snapshotDecider(config: .default, state: try fixtureState(), unknownReason: "")
        let first = try decide(decider, try entryBody(node: "n2", uid: "u1"))
        #expect(first.allowed)
        // The same entry again (kube-apiserver retries): idempotent.
        #expect(try decide(decider, try entryBody(node: "n2", uid: "u2")).allowed)
        // Another node while n2 is in maintenance: too many.
        let second = try decide(decider, try entryBody(node: "n3", uid: "u3"))
        #expect(!second.allowed)
        #expect(second.message?.hasPrefix("TooManyExistingFailures: ") == true, "\(second.message ?? "")")
        let state = try #require(decider.backend.snapshot)
        #expect(state.annotation(namespace: "store", pod: "db-2", key: "emm-failure") == "TooManyExistingFailures")
        #expect(state.annotation(namespace: "store", pod: "db-1", key: "emm-failure") == nil)
    }

    @Test func exitClearsAnnotationsAndFreesTheSlot() throws {
        let decider = snapshotDecider(config: .default, state: try fixtureState(), unknownReason: "")
        #expect(try decide(decider, try entryBody(node: "n2", uid: "u1")).allowed)
        #expect(!(try decide(decider, try entryBody(node: "n3", uid: "u2")).allowed))
        #expect(decider.backend.snapshot?.annotation(namespace: "store", pod: "db-2", key: "emm-failure") != nil)
        // n2 leaves maintenance.
        var exit = AdmissionRequest(apiVersion: "admission.k8s.io/v1", uid: "u3")
        exit.name = "n2"
        exit.oldTaints = [Taint(key: "drain", value: "planned-downtime", effect: "NoSchedule")]
        decider.exitAnswered(exit)
        decider.drain()
        // n3's entry is now admitted, and its pod's old failure annotation is removed.
        let again = try decide(decider, try entryBody(node: "n3", uid: "u4"))
        #expect(again.allowed, "\(again.message ?? "")")
        #expect(decider.backend.snapshot?.annotation(namespace: "store", pod: "db-2", key: "emm-failure") == nil)
    }

    @Test func dryRunDecidesButChangesNothing() throws {
        let decider = snapshotDecider(config: .default, state: try fixtureState(), unknownReason: "")
        #expect(try decide(decider, try entryBody(node: "n2", uid: "u1", dryRun: true)).allowed)
        // Not recorded: another node may still enter.
        #expect(try decide(decider, try entryBody(node: "n3", uid: "u2")).allowed)
        let denied = try decide(decider, try entryBody(node: "n1", uid: "u3", dryRun: true))
        #expect(!denied.allowed)
        #expect(decider.backend.snapshot?.annotation(namespace: "store", pod: "db-0", key: "emm-failure") == nil)
    }

    @Test(arguments: [(PolicyConfig.Mode.enforce, false, true), (.annotate, true, true), (.audit, true, false)])
    func modesChangeOnlyWhatIsDoneWithTheVerdict(mode: PolicyConfig.Mode, allowed: Bool, annotated: Bool) throws {
        var config = PolicyConfig.default
        config.mode = mode
        let decider = snapshotDecider(config: config, state: try fixtureState(), unknownReason: "")
        _ = try decide(decider, try entryBody(node: "n2", uid: "u1"))
        let second = try decide(decider, try entryBody(node: "n3", uid: "u2"))
        #expect(second.allowed == allowed)
        if allowed { #expect(second.warnings.first?.contains("TooManyExistingFailures") == true) }
        #expect((decider.backend.snapshot?.annotation(namespace: "store", pod: "db-2", key: "emm-failure") != nil) == annotated)
    }

    @Test func noStateMeansGenericFailureUnlessFailOpen() throws {
        let closed = snapshotDecider(config: .default, state: nil, unknownReason: "no state")
        let denied = try decide(closed, try entryBody(node: "n2", uid: "u1"))
        #expect(!denied.allowed)
        #expect(denied.message?.hasPrefix("GenericFailure: ") == true)
        var config = PolicyConfig.default
        config.failClosed = false
        let open = snapshotDecider(config: config, state: nil, unknownReason: "no state")
        #expect(try decide(open, try entryBody(node: "n2", uid: "u1")).allowed)
    }

    /// Two entries for two nodes at the same moment over two connections, one slot: exactly one wins.
    @Test(arguments: 0..<10)
    func concurrentEntriesTakeTheLastSlotOnce(round: Int) throws {
        let decider = snapshotDecider(config: .default, state: try fixtureState(), unknownReason: "")
        let server = try WebhookTestServer(decider: decider)
        defer { server.stop() }
        let clients = [try server.connect(), try server.connect()].map(HTTPClientConnection.init)
        let bodies = [try entryBody(node: "n1", uid: "a\(round)"), try entryBody(node: "n3", uid: "b\(round)")]
        let results = Locked<[Bool]>([])
        let group = DispatchGroup()
        for i in 0..<2 {
            nonisolated(unsafe) let client = clients[i]
            let body = bodies[i]
            DispatchQueue.global().async(group: group) {
                defer { }
                guard (try? client.send(
                    method: "POST", target: "/validate?timeout=5s", host: "x", headers: [("Content-Type", "application/json")],
                    body: body, deadline: deadline(5))) != nil,
                    let response = try? client.readResponse(deadline: deadline(5)),
                    let json = try? JSON.parse(response.body),
                    let allowed = json["response"]?["allowed"]?.bool
                else { return }
                results.withLock { $0.append(allowed) }
            }
        }
        group.wait()
        let answers = results.withLock { $0 }
        #expect(answers.count == 2)
        #expect(answers.filter { $0 }.count == 1, "\(answers)")
    }

    @Test func policyFileChangesApplyWithoutARestartAndBadOnesAreRefused() throws {
        let path = NSTemporaryDirectory() + "tmm-policy-\(UUID().uuidString).yaml"
        try "maxNodesInMaintenance: 1\n".write(toFile: path, atomically: true, encoding: .utf8)
        let decider = snapshotDecider(config: try loadPolicy(path), state: try fixtureState(), unknownReason: "")
        let metrics = WebhookMetrics()
        let rejections = Locked<[String]>([])
        let reloader = PolicyReloader(
            path: path, initialContents: Array(try Data(contentsOf: URL(fileURLWithPath: path))), logger: quietLogger(),
            metrics: metrics, onRejected: { message in rejections.withLock { $0.append(message) } }
        ) { decider.update(config: $0) }
        #expect(reloader.checkNow() == false)
        #expect(try decide(decider, try entryBody(node: "n1", uid: "u1")).allowed)
        #expect(!(try decide(decider, try entryBody(node: "n3", uid: "u2")).allowed))

        try "maxNodesInMaintenance: 2\nmode: audit\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(reloader.checkNow() == true)
        #expect(decider.config.maxNodesInMaintenance == 2)

        try "maxNodesInMaintenance: two\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(reloader.checkNow() == false)
        #expect(decider.config.maxNodesInMaintenance == 2)
        #expect(decider.config.mode == .audit)
        #expect(rejections.withLock { $0 }.count == 1)
        #expect(rejections.withLock { $0 }.first?.contains("maxNodesInMaintenance") == true)
        let text = String(decoding: metrics.render(), as: UTF8.self)
        #expect(text.contains(#"tmm_webhook_policy_reloads_total{result="success"} 1"#))
        #expect(text.contains(#"tmm_webhook_policy_reloads_total{result="failure"} 1"#))
    }
}
