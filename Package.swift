// swift-tools-version:6.0
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "tmm-webhook",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tmm-webhook", targets: ["tmm-webhook"]),
        .library(name: "TMMBase", targets: ["TMMBase"]),
        .library(name: "TMMTransport", targets: ["TMMTransport"]),
        .library(name: "TMMAdmission", targets: ["TMMAdmission"]),
        .library(name: "TMMPolicy", targets: ["TMMPolicy"]),
        .library(name: "TMMKube", targets: ["TMMKube"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
    ],
    targets: [
        // C shims over the system libraries: module maps plus static-inline wrappers for macros.
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // Linux headers (epoll, eventfd, TCP options) that Glibc's module map leaves out.
        .systemLibrary(name: "CLinux"),

        // What every layer with threads or a clock shares: Deadline (the monotonic clock), OS threads,
        // ASCII and percent-encoding helpers.
        .target(name: "TMMBase", dependencies: ["CLinux"], swiftSettings: strict),

        // A small, fast JSON reader/writer shared by every layer (no Foundation).
        .target(name: "TMMJSON", swiftSettings: strict),

        // TLS + HTTP/1.1 server on POSIX sockets and OpenSSL. Knows nothing of Kubernetes.
        .target(
            name: "TMMTransport",
            dependencies: ["TMMBase", "COpenSSL", "CLinux", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),

        // The Kubernetes API client (configuration, pooled keep-alive requests, watches) on TMMTransport.
        .target(
            name: "TMMKube",
            dependencies: [
                "TMMBase", "TMMTransport", "TMMJSON", "CZlib",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        // The TMM policy engine: pure, no I/O, no clock it does not receive.
        .target(
            name: "TMMPolicy",
            dependencies: ["TMMJSON", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),

        // AdmissionReview types, taint transitions, the admission handler.
        .target(
            name: "TMMAdmission",
            dependencies: ["TMMBase", "TMMJSON", "TMMPolicy", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),

        // Wires transport, admission and policy together; the commands' implementations.
        .target(
            name: "TMMApp",
            dependencies: [
                "TMMBase", "TMMTransport", "TMMAdmission", "TMMPolicy", "TMMJSON", "TMMKube", "COpenSSL",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),

        .executableTarget(
            name: "tmm-webhook",
            dependencies: [
                "TMMApp", "TMMPolicy", "TMMTransport", "TMMKube", "TMMJSON",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        // Generates a large cluster and measures the policy engine (run in release).
        .executableTarget(
            name: "tmm-policy-bench",
            dependencies: ["TMMPolicy", "TMMJSON"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "tmm-review-bench",
            dependencies: ["TMMAdmission", "TMMBase", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),

        // Benchmarks of the live cache and the annotator (run by hand; see bench/README.md).
        .executableTarget(
            name: "tmm-live-bench",
            dependencies: [
                "TMMApp", "TMMBase", "TMMKube", "TMMTransport", "TMMJSON", "TMMPolicy",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        // libFuzzer targets (Tests/Fuzz/run.sh builds them with -sanitize=fuzzer,address -D FUZZING);
        // a plain build makes each a replayer of the inputs named on its command line.
        .target(name: "FuzzSupport", path: "Tests/Fuzz/Targets/FuzzSupport", swiftSettings: strict),
        .executableTarget(
            name: "fuzz-json", dependencies: ["FuzzSupport", "TMMJSON"], path: "Tests/Fuzz/Targets/fuzz-json",
            swiftSettings: strict),
        .executableTarget(
            name: "fuzz-http-head", dependencies: ["FuzzSupport", "TMMTransport", "TMMBase", .product(name: "Logging", package: "swift-log")], path: "Tests/Fuzz/Targets/fuzz-http-head",
            swiftSettings: strict),
        .executableTarget(
            name: "fuzz-admission", dependencies: ["FuzzSupport", "TMMAdmission", "TMMJSON", "TMMPolicy"],
            path: "Tests/Fuzz/Targets/fuzz-admission", swiftSettings: strict),
        .executableTarget(
            name: "fuzz-watch-event", dependencies: ["FuzzSupport", "TMMKube", "TMMJSON", "TMMPolicy"],
            path: "Tests/Fuzz/Targets/fuzz-watch-event", swiftSettings: strict),
        .executableTarget(
            name: "fuzz-quantity", dependencies: ["FuzzSupport", "TMMPolicy"], path: "Tests/Fuzz/Targets/fuzz-quantity",
            swiftSettings: strict),
        .executableTarget(
            name: "fuzz-policy-config", dependencies: ["FuzzSupport", "TMMPolicy"],
            path: "Tests/Fuzz/Targets/fuzz-policy-config", swiftSettings: strict),
        .executableTarget(
            name: "fuzz-kubeconfig", dependencies: ["FuzzSupport", "TMMKube"], path: "Tests/Fuzz/Targets/fuzz-kubeconfig",
            swiftSettings: strict),

        // Helpers the test targets share (certificates, running commands, deadlines).
        // The fake API server (recorded v1.21 wire format) lives here too, for the Kube and live tests.
        .target(
            name: "TMMTestSupport",
            dependencies: [
                "TMMBase", "TMMTransport", "TMMKube", "TMMJSON", "CZlib", .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TMMTestSupport",
            resources: [.copy("Fixtures")],
            swiftSettings: strict
        ),

        .testTarget(name: "TMMBaseTests", dependencies: ["TMMBase"], swiftSettings: strict),
        .testTarget(
            name: "TMMJSONTests", dependencies: ["TMMJSON"], resources: [.copy("Corpus")], swiftSettings: strict),
        .testTarget(
            name: "TMMPolicyTests",
            dependencies: ["TMMPolicy", "TMMJSON"],
            resources: [.copy("Fixtures")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "TMMAdmissionTests",
            dependencies: ["TMMAdmission", "TMMJSON", "TMMPolicy"],
            resources: [.copy("Fixtures")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "TMMTransportTests",
            dependencies: [
                "TMMBase", "TMMTransport", "TMMTestSupport", "CLinux", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "TMMKubeTests",
            dependencies: [
                "TMMBase", "TMMKube", "TMMTransport", "TMMJSON", "CZlib", "TMMTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Fixtures")],
            swiftSettings: strict
        ),
        // Live mode (the entry pipeline over the API server's backend) against the fake API server.
        .testTarget(
            name: "TMMLiveTests",
            dependencies: [
                "TMMApp", "TMMKube", "TMMTransport", "TMMJSON", "TMMAdmission", "TMMPolicy", "TMMTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "TMMAppTests",
            dependencies: [
                "TMMApp", "TMMBase", "TMMTransport", "TMMAdmission", "TMMJSON", "TMMTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Fixtures")],
            swiftSettings: strict
        ),
        // tmm-webhook against a real kube-apiserver and etcd on loopback, driven with kubectl
        // (../shared/kube-apiserver; skipped when absent, a failure in CI). See Tests/TMMIntegrationTests.
        .testTarget(name: "TMMIntegrationTests", dependencies: ["TMMBase", "TMMTestSupport"], exclude: ["README.md"], swiftSettings: strict),
        // Renders every kustomize overlay under deploy/ with `kubectl kustomize` and checks that the
        // pieces agree (names, ports, selectors, secrets, RBAC against deploy/permissions.yaml).
        .testTarget(
            name: "TMMDeployTests",
            dependencies: ["TMMBase", "TMMKube", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
