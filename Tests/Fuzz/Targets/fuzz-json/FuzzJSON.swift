import FuzzSupport
import TMMJSON

/// The JSON scanner: whole-document parsing, the skipping path, and a round trip through the writer.
func fuzzJSON(_ input: UnsafeRawBufferPointer) {
    let parsed = try? JSON.parse(input)
    // The skipping reader must accept exactly what the building one accepts.
    var scanner = JSONScanner(input)
    var skipped = false
    do throws(JSONError) {
        if !scanner.atEnd() {
            try scanner.skipValue()
            try scanner.expectEnd()
            skipped = true
        }
    } catch {}
    if skipped != (parsed != nil) { Fuzz.fail("skipValue accepted=\(skipped), parse accepted=\(parsed != nil)") }
    // What was read writes back to JSON that reads the same.
    if let parsed {
        let written = Array(parsed.serialized.utf8)
        guard let again = try? JSON.parse(written) else { Fuzz.fail("the writer's output does not parse: \(parsed.serialized)") }
        if again != parsed { Fuzz.fail("round trip changed the value: \(parsed.serialized)") }
    }
}

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEntry(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    fuzzJSON(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
@main enum Replay {
    static func main() { Fuzz.replay(CommandLine.arguments, fuzzJSON) }
}
#endif
