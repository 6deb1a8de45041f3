import FuzzSupport
import TMMAdmission
import TMMJSON
import TMMPolicy

/// AdmissionReview parsing and the taint classification that follows it, as the handler runs them. What
/// the fast reader accepts must be valid JSON, and its taints must be those `JSON.parse` sees.
func fuzzAdmission(_ input: UnsafeRawBufferPointer) {
    guard let request = try? AdmissionRequest.parse(input) else { return }
    guard let tree = try? JSON.parse(input) else { Fuzz.fail("AdmissionRequest accepted a body that is not JSON") }
    if request.uid.isEmpty { Fuzz.fail("accepted without a uid") }
    if tree.value(at: "request", "uid")?.string != request.uid { Fuzz.fail("uid differs from the tree's") }
    for keys in [["drain"], ["drain", "node.vmware.com/drain", "node.dell.com/drain"], []] {
        _ = Transition.classify(old: request.oldTaints, new: request.newTaints, taintKeys: keys)
    }
}

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEntry(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    fuzzAdmission(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
@main enum Replay {
    static func main() { Fuzz.replay(CommandLine.arguments, fuzzAdmission) }
}
#endif
