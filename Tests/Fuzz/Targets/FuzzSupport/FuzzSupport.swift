#if canImport(Glibc)
import Glibc
#endif

/// What the fuzz targets share: built with `-D FUZZING` and `-sanitize=fuzzer`, each target is a libFuzzer
/// entry point (`LLVMFuzzerTestOneInput`, libFuzzer brings `main`); built plainly (as `swift build` does),
/// it is a replayer that runs the same code over the files named on its command line, so a crash found by
/// the fuzzer can be replayed, and the targets keep compiling with the rest of the package.
public enum Fuzz {
    /// Runs `body` over every file named in `arguments` (directories are not walked). Exits 0.
    public static func replay(_ arguments: [String], _ body: (UnsafeRawBufferPointer) -> Void) {
        var count = 0
        for path in arguments.dropFirst() {
            guard let bytes = read(path) else {
                print("cannot read \(path)")
                continue
            }
            bytes.withUnsafeBytes(body)
            count += 1
        }
        print("replayed \(count) input(s)")
    }

    /// The bytes of a file, or nil.
    public static func read(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        return bytes
    }

    /// Stops the run with a message libFuzzer records as a crash: an invariant the target checks failed.
    public static func fail(_ message: String) -> Never {
        fatalError("fuzz invariant: \(message)")
    }
}
