// tmm-live-bench: the live cache and the annotator against an API server in another process.
//
//   swift run -c release tmm-live-bench [PODS] [NODES]        (defaults 150000 and 5000)
//
// The parent makes certificates and starts itself as `tmm-live-bench serve ...`: a TLS server on the
// project's HTTPServer that answers paged LISTs of PODS pods (the real fixture pod, varied: names,
// namespaces, labels, nodes), NODES nodes and one budget per 50 pods, keeps WATCHes open, and answers
// PATCHes. The parent then measures, in its own process: the time to a full initial sync of the cache,
// its resident memory (VmRSS and VmHWM from /proc/self/status), and the time to annotate 100 pods
// (PodAnnotator, 8 patches in flight). The server's memory is not counted.
import Foundation
import Logging
import TMMApp
import TMMBase
import TMMJSON
import TMMKube
import TMMPolicy
import TMMTransport

let arguments = CommandLine.arguments
var logger = Logger(label: "bench")
logger.logLevel = .critical

if arguments.count > 1 && arguments[1] == "serve" {
    // serve PORTFILE CERT KEY PODS NODES FIXTURES
    let pods = Int(arguments[5])!, nodes = Int(arguments[6])!
    let server = try BenchAPIServer(pods: pods, nodes: nodes, fixtures: arguments[7])
    let context = try TLSContext.server(
        certificateChainPEM: try readFile(arguments[3]), privateKeyPEM: try readFile(arguments[4]))
    var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
    configuration.eventLoopCount = 1
    let http = try HTTPServer(configuration: configuration, tls: TLSContextSource(context), handler: server, logger: logger)
    http.start()
    try String(http.port).write(toFile: arguments[2], atomically: true, encoding: .utf8)
    while true { sleep(60) }
}

let pods = arguments.count > 1 ? Int(arguments[1]) ?? 150_000 : 150_000
let nodes = arguments.count > 2 ? Int(arguments[2]) ?? 5_000 : 5_000
let fixtures = ProcessInfo.processInfo.environment["TMM_FIXTURES"] ?? "Tests/TMMKubeTests/Fixtures"
let work = NSTemporaryDirectory() + "tmm-live-bench-\(getpid())"
try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
let ca = try CertificateGenerator.makeCA(commonName: "bench CA")
let serving = try CertificateGenerator.makeServing(ca: ca, dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"])
try Data(serving.certificatePEM).write(to: URL(fileURLWithPath: work + "/tls.crt"))
try Data(serving.privateKeyPEM).write(to: URL(fileURLWithPath: work + "/tls.key"))

print("generating \(pods) pods on \(nodes) nodes in a server process...")
let child = Process()
child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
child.arguments = ["serve", work + "/port", work + "/tls.crt", work + "/tls.key", String(pods), String(nodes), fixtures]
try child.run()
defer { child.terminate() }
var port = 0
while port == 0 {
    usleep(100_000)
    guard child.isRunning else { fatalError("the server process exited") }
    port = (try? String(contentsOfFile: work + "/port", encoding: .utf8)).flatMap { Int($0) } ?? 0
}

func memory() -> String {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    return status.split(separator: "\n").filter { $0.hasPrefix("VmRSS") || $0.hasPrefix("VmHWM") }
        .map { $0.replacingOccurrences(of: "\t", with: " ").replacingOccurrences(of: "  ", with: "") }.joined(separator: ", ")
}

print("before sync: \(memory())")
let config = KubeConfig(host: "127.0.0.1", port: port, certificateAuthorityPEM: ca.certificatePEM, token: "bench")
let client = try KubeClient(config: config)
let cache = WatchCache(
    client: client, store: ClusterStore(keptAnnotationKeys: ["emm-failure", PodAnnotator.writtenAtKey], taintKeys: PolicyConfig.default.taintKeys),
    logger: logger)
let start = Date()
cache.start()
while !cache.isSynced { usleep(5_000) }
let syncSeconds = Date().timeIntervalSince(start)
let counts = cache.withStore { store, _ in (store.cluster.nodeCount, store.cluster.podCount, store.cluster.budgetCount) }
print(String(format: "initial sync: %.2f s for %d nodes, %d pods, %d budgets", syncSeconds, counts.0, counts.1, counts.2))
print("after sync: \(memory())")

let annotator = PodAnnotator(client: client)
let targets = (0..<100).map { PodRef(namespace: "ns-\($0 % 100)", name: "pod-\($0)") }
var timings: [Double] = []
for round in 0..<5 {
    let t0 = Date()
    let outcome = annotator.annotate(
        targets, key: "emm-failure", value: round % 2 == 0 ? "TooManyExistingFailures" : nil, now: Int64(time(nil)),
        deadline: .now() + .seconds(30))
    timings.append(Date().timeIntervalSince(t0))
    precondition(outcome.patched == 100, "patched \(outcome)")
}
print("annotate 100 pods: " + timings.map { String(format: "%.0f ms", $0 * 1000) }.joined(separator: ", "))
cache.stop()
child.terminate()
exit(0)

/// The API server side: pre-serialized list pages, open watches, trivial patches.
final class BenchAPIServer: HTTPHandler {
    let podPages: [[UInt8]]
    let nodePages: [[UInt8]]
    let budgetPages: [[UInt8]]
    static let pageSize = 500

    init(pods: Int, nodes: Int, fixtures: String) throws {
        let podTemplate = try Self.template(fixtures + "/list-pods.json")
        let nodeTemplate = try Self.template(fixtures + "/list-nodes.json")
        func pages(_ count: Int, kind: String, item: (Int) -> String) -> [[UInt8]] {
            stride(from: 0, to: max(count, 1), by: Self.pageSize).map { start in
                let end = min(count, start + Self.pageSize)
                let next = end < count ? "\"continue\":\"page-\(end)\"," : ""
                var text = "{\"kind\":\"\(kind)\",\"apiVersion\":\"v1\",\"metadata\":{\(next)\"resourceVersion\":\"1000\"},\"items\":["
                text += (start..<end).map(item).joined(separator: ",")
                text += "]}"
                return Array(text.utf8)
            }
        }
        podPages = pages(pods, kind: "PodList") { i in
            podTemplate
                .replacingOccurrences(of: "\"n1\"", with: "\"node-\(i % nodes)\"")
                .replacingOccurrences(of: "db-0", with: "pod-\(i)")
                .replacingOccurrences(of: "\"store\"", with: "\"ns-\(i % 100)\"")
                .replacingOccurrences(of: "\"db\"", with: "\"app-\(i / 50)\"")
                .replacingOccurrences(of: "d8771795-d27d-48da-800f-9be73dc15698", with: "00000000-0000-4000-8000-\(String(format: "%012d", i))")
        }
        nodePages = pages(nodes, kind: "NodeList") { i in
            nodeTemplate.replacingOccurrences(of: "\"n1\"", with: "\"node-\(i)\"").replacingOccurrences(of: "zone-n1", with: "zone-\(i % 3)")
        }
        budgetPages = pages(pods / 50, kind: "PodDisruptionBudgetList") { i in
            "{\"metadata\":{\"name\":\"app-\(i)\",\"namespace\":\"ns-\(i * 50 % 100)\"},\"spec\":{\"minAvailable\":\"50%\",\"selector\":{\"matchLabels\":{\"app\":\"app-\(i)\"}}}}"
        }
    }

    static func template(_ path: String) throws -> String {
        let list = try JSON.parse(try readFile(path))
        guard let first = list["items"]?[0] else { fatalError("no items in \(path)") }
        return first.serialized
    }

    func handle(_ request: HTTPRequest, responder: HTTPResponder) {
        let path = String(request.path)
        let query = Dictionary(request.query.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        if query["watch"] != nil {
            // Open and quiet until the client goes away.
            _ = responder.respondStreaming(HTTPResponse(status: 200, headers: [("Content-Type", "application/json")]))
            return
        }
        if request.method == "PATCH" {
            responder.respond(.json(200, Array(#"{"kind":"Pod","apiVersion":"v1","metadata":{}}"#.utf8)))
            return
        }
        let pages: [[UInt8]]
        switch path {
        case "/api/v1/pods": pages = podPages
        case "/api/v1/nodes": pages = nodePages
        case "/apis/policy/v1/poddisruptionbudgets": pages = budgetPages
        default:
            responder.respond(.json(404, Array(#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}"#.utf8)))
            return
        }
        let start = query["continue"].flatMap { Int($0.dropFirst("page-".count)) } ?? 0
        responder.respond(.json(200, pages[start / Self.pageSize]))
    }
}
