import FuzzSupport
import Glibc
import TMMKube

/// The kubeconfig loader: any file is a configuration or a `KubeError`, never a trap. The loader reads a
/// path, so each input is written to a file of this process's own in /dev/shm (or /tmp) first.
let scratchPath: String = {
    let directory = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
    return "\(directory)/tmm-fuzz-kubeconfig-\(getpid()).yaml"
}()

func fuzzKubeConfig(_ input: UnsafeRawBufferPointer) {
    guard let file = fopen(scratchPath, "wb") else { Fuzz.fail("cannot write \(scratchPath)") }
    if let base = input.baseAddress { fwrite(base, 1, input.count, file) }
    fclose(file)
    if let config = try? KubeConfig.fromFile(scratchPath) {
        _ = config.host
        _ = config.port
    }
}

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEntry(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    fuzzKubeConfig(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
@main enum Replay {
    static func main() { Fuzz.replay(CommandLine.arguments, fuzzKubeConfig) }
}
#endif
