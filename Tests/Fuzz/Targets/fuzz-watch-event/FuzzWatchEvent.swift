import FuzzSupport
import TMMJSON
import TMMKube
import TMMPolicy

/// One line of a WATCH stream, decoded as the client does, and its object read as the cache would.
func fuzzWatchEvent(_ input: UnsafeRawBufferPointer) {
    guard let event = try? KubeWatchEvent.decode(line: Array(input)[...]) else { return }
    _ = event.resourceVersion
    _ = event.error?.isGone
    switch event.object["kind"]?.string {
    case "Node": _ = try? Node(json: event.object)
    case "Pod": _ = try? Pod(json: event.object)
    case "PodDisruptionBudget": _ = try? DisruptionBudget(json: event.object)
    default: break
    }
}

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEntry(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    fuzzWatchEvent(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
@main enum Replay {
    static func main() { Fuzz.replay(CommandLine.arguments, fuzzWatchEvent) }
}
#endif
