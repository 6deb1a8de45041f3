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

        // A small, fast JSON reader/writer shared by every layer (no Foundation).
        .target(name: "TMMJSON", swiftSettings: strict),

        // TLS + HTTP/1.1 server on POSIX sockets and OpenSSL. Knows nothing of Kubernetes.
        .target(
            name: "TMMTransport",
            dependencies: ["COpenSSL", "CLinux", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),

        // The Kubernetes API client (configuration, pooled keep-alive requests, watches) on TMMTransport.
        .target(
            name: "TMMKube",
            dependencies: [
                "TMMTransport", "TMMJSON", "CZlib",
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
            dependencies: ["TMMJSON", "TMMPolicy", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),

        // Wires transport, admission and policy together; the commands' implementations.
        .target(
            name: "TMMApp",
            dependencies: [
                "TMMTransport", "TMMAdmission", "TMMPolicy", "TMMJSON", "TMMKube", "COpenSSL",
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

        // Benchmarks of the live cache and the annotator (run by hand; see bench/README.md).
        .executableTarget(
            name: "tmm-live-bench",
            dependencies: ["TMMApp", "TMMKube", "TMMTransport", "TMMJSON", "TMMPolicy", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),

        // Helpers the test targets share (certificates, running commands, deadlines).
        .target(
            name: "TMMTestSupport",
            dependencies: ["TMMTransport"],
            path: "Tests/TMMTestSupport",
            swiftSettings: strict
        ),

        .testTarget(name: "TMMJSONTests", dependencies: ["TMMJSON"], swiftSettings: strict),
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
            dependencies: ["TMMTransport", "TMMTestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "TMMKubeTests",
            dependencies: [
                "TMMKube", "TMMTransport", "TMMJSON", "CZlib", "TMMApp", "TMMAdmission", "TMMPolicy", "TMMTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Fixtures")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "TMMAppTests",
            dependencies: [
                "TMMApp", "TMMTransport", "TMMAdmission", "TMMJSON", "TMMTestSupport", .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Fixtures")],
            swiftSettings: strict
        ),
        // Renders every kustomize overlay under deploy/ with `kubectl kustomize` and checks that the
        // pieces agree (names, ports, selectors, secrets, RBAC against deploy/permissions.yaml).
        .testTarget(
            name: "TMMDeployTests",
            dependencies: ["TMMKube", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
