import FuzzSupport
@testable import TMMTransport

/// The request-head parser and the framing around it: finding the end of a head in a stream that grows
/// piece by piece (as reads deliver it) must agree with finding it in the whole, and a parsed head's
/// framing must be self-consistent.
func fuzzHTTPHead(_ input: UnsafeRawBufferPointer) {
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
