import FuzzSupport
import Logging
import TMMBase
@testable import TMMTransport

/// The request-head parser and the framing around it: finding the end of a head in a stream that grows
/// piece by piece (as reads deliver it) must agree with finding it in the whole, a parsed head's framing
/// must be self-consistent, and the connection state machine fed the same stream in the same pieces
/// must keep its invariants.
func fuzzHTTPHead(_ input: UnsafeRawBufferPointer) {
    fuzzParser(input)
    fuzzConnection(input)
}

/// Feeds the stream to a connection's state machine as reads would deliver it, answering each request
/// at once: it must never dispatch a body of another length than its head announced, and must give back
/// its whole body budget once closed.
func fuzzConnection(_ input: UnsafeRawBufferPointer) {
    guard !input.isEmpty else { return }
    let step = Int(input[0] % 16) + 1
    let stream = UnsafeRawBufferPointer(rebasing: input[1...])
    var configuration = HTTPServerConfiguration()
    configuration.maxHeaderBytes = 1024
    configuration.maxBodyBytes = 4096
    let budget = RequestBodyBudget(limit: 8192)
    var machine = HTTPConnectionStateMachine(
        limits: .init(configuration), remoteAddress: "fuzz", budget: budget, observer: NoObserver(),
        logger: Logger(label: "fuzz"), handshakeDeadline: Deadline(uptimeNanoseconds: 1))
    var action = machine.handshakeCompleted(clientCertificateVerified: false, now: Deadline(uptimeNanoseconds: 1))
    var offset = 0
    var steps = 0
    loop: while steps < 10_000 {
        steps += 1
        switch action {
        case .read:
            guard offset < stream.count else { break loop }
            let end = min(stream.count, offset + step)
            action = machine.received(UnsafeRawBufferPointer(rebasing: stream[offset..<end]), now: Deadline(uptimeNanoseconds: 2))
            offset = end
        case .dispatch(let request):
            if let length = request.header("content-length").flatMap(Int.init), length != request.body.count {
                Fuzz.fail("dispatched a body of \(request.body.count) bytes for Content-Length \(length)")
            }
            guard let next = machine.respond(.text(200, "ok"), serverDraining: false, now: Deadline(uptimeNanoseconds: 3)) else {
                Fuzz.fail("a dispatched request could not be answered")
                break loop
            }
            action = next
        case .write:
            let pending = machine.withPendingOutput { $0.count }
            action = machine.wrote(pending, now: Deadline(uptimeNanoseconds: 4))
        case .wait(.readable):
            action = offset < stream.count ? .read : .close(reason: "end of input")
        case .wait, .handshake:
            Fuzz.fail("unexpected \(action) while reading a stream")
            break loop
        case .close:
            break loop
        }
    }
    machine.closed()
    if budget.held != 0 { Fuzz.fail("\(budget.held) budget bytes still held after close") }
}

func fuzzParser(_ input: UnsafeRawBufferPointer) {
    guard !input.isEmpty else { return }
    // The first byte picks how the stream is cut into reads.
    let step = Int(input[0] % 16) + 1
    let stream = UnsafeRawBufferPointer(rebasing: input[1...])
    let whole = findHeadEnd(stream)
    var finder = HTTPHeadFinder()
    var found: Int?
    var end = 0
    while found == nil && end < stream.count {
        end = min(stream.count, end + step)
        found = finder.find(in: UnsafeRawBufferPointer(rebasing: stream[0..<end]))
    }
    if found != whole { Fuzz.fail("incremental head end \(String(describing: found)) != whole \(String(describing: whole))") }
    if finder.examined > 4 * stream.count + 16 { Fuzz.fail("the head search examined \(finder.examined) bytes of \(stream.count)") }
    let head = whole.map { UnsafeRawBufferPointer(rebasing: stream[0..<$0]) } ?? stream
    do throws(HTTPHead.Rejection) {
        let parsed = try HTTPHead.parse(head)
        if parsed.contentLength < 0 { Fuzz.fail("negative Content-Length") }
        if !parsed.target.hasPrefix("/") { Fuzz.fail("a target that is not a path was accepted") }
        if parsed.method.isEmpty { Fuzz.fail("an empty method was accepted") }
        let request = HTTPRequest(method: parsed.method, target: parsed.target, headers: parsed.headers)
        _ = request.query
        _ = request.path
    } catch {
        if ![400, 411, 417, 501, 505].contains(error.status) { Fuzz.fail("unexpected status \(error.status)") }
    }
}

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEntry(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    fuzzHTTPHead(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
@main enum Replay {
    static func main() { Fuzz.replay(CommandLine.arguments, fuzzHTTPHead) }
}
#endif
