import FuzzSupport
import TMMPolicy

/// The policy file (YAML): any text is a policy or a `PolicyError`, never a trap.
func fuzzPolicyConfig(_ input: UnsafeRawBufferPointer) {
    _ = try? PolicyConfig.load(yaml: String(decoding: input, as: UTF8.self))
}

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEntry(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    fuzzPolicyConfig(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
@main enum Replay {
    static func main() { Fuzz.replay(CommandLine.arguments, fuzzPolicyConfig) }
}
#endif
