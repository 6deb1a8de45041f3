import FuzzSupport
import TMMPolicy

/// Resource quantities (`100m`, `1.5Gi`, `1e3`): parsing never traps, and equal texts give equal values.
func fuzzQuantity(_ input: UnsafeRawBufferPointer) {
    let text = String(decoding: input, as: UTF8.self)
    guard let quantity = try? Quantity(text) else { return }
    guard let again = try? Quantity(text), again == quantity else { Fuzz.fail("parsing \(text) twice disagrees") }
    var hasher = Hasher()
    quantity.hash(into: &hasher)
    _ = hasher.finalize()
}

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEntry(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    fuzzQuantity(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
@main enum Replay {
    static func main() { Fuzz.replay(CommandLine.arguments, fuzzQuantity) }
}
#endif
