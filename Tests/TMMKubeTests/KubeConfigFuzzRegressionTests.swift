import TMMTestSupport
import Foundation
import Testing
import TMMKube

/// Inputs the kubeconfig fuzz target (Tests/Fuzz) crashed on: each must be an error, not a trap.
@Suite struct KubeConfigFuzzRegressionTests {
    /// A mapping key that is itself a mapping (`? {...}`): Yams' untyped constructor force-unwraps it as a
    /// string and traps, which took the process down on a malformed kubeconfig.
    @Test(arguments: [
        "apiVersion: v1\nkind: Config\ncurrent-context: dev\n? {a: b}\n: c\n",
        "apiVersion: v1\ncontexts:\n- name: dev\n  ? context: {cluster: c, user: u}\n",
        "? [1, 2]\n: x\n",
    ])
    func aNonScalarKeyIsAnError(yaml: String) throws {
        let path = try temporaryDirectory() + "/config"
        try write(yaml, to: path)
        #expect(throws: KubeError.self) { try KubeConfig.fromFile(path) }
    }

    @Test func theFuzzersCrashInputIsAnError() throws {
        let path = packageRoot + "/Tests/Fuzz/Regressions/fuzz-kubeconfig/yams-non-scalar-key.yaml"
        try #require(FileManager.default.fileExists(atPath: path))
        #expect(throws: KubeError.self) { try KubeConfig.fromFile(path) }
    }
}
