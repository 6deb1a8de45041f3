import Foundation
import Testing

/// The Dockerfile cannot be built in the development sandbox (no Docker), so it is read against
/// Package.swift and the Deployment instead: the build stage installs every system library the package
/// declares, builds the executable product, and the runtime image runs it as the Deployment expects.
@Suite struct DockerfileTests {
    let dockerfile: String
    let package: String

    init() throws {
        let root = Kustomize.repositoryRoot
        dockerfile = try String(contentsOf: root.appendingPathComponent("Dockerfile"), encoding: .utf8)
        package = try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
    }

    /// The Dockerfile's stages: the text from each FROM line to the next.
    var stages: [String] {
        dockerfile.components(separatedBy: "\nFROM ").dropFirst().map { "FROM " + $0 }
    }

    /// The strings inside `marker(["a", "b"])` calls of Package.swift, e.g. `.apt(["libssl-dev"])`.
    func packageStrings(after marker: String) -> [String] {
        package.components(separatedBy: marker).dropFirst().flatMap { rest in
            (rest.components(separatedBy: "]").first ?? "")
                .split(separator: "\"", omittingEmptySubsequences: false)
                .enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
        }
    }

    @Test func buildStageHasEveryDeclaredSystemLibrary() throws {
        try #require(stages.count == 2, "a build stage and a runtime stage")
        let providers = packageStrings(after: ".apt([")
        #expect(Set(providers) == ["libssl-dev", "zlib1g-dev"], "Package.swift providers changed: \(providers)")
        for provider in providers {
            #expect(stages[0].contains(provider), "the build stage does not install \(provider)")
        }
        // systemLibrary targets are found through pkg-config.
        #expect(!package.contains("pkgConfig:") || stages[0].contains("pkg-config"))
    }

    @Test func buildsTheExecutableProductWithTheDeclaredToolsVersion() throws {
        let executables = packageStrings(after: ".executable(name: ")
        let product = try #require(executables.first, "an executable product in Package.swift")
        #expect(product == "tmm-webhook")
        #expect(stages[0].contains("--product \(product)"))
        #expect(stages[0].contains("-c release"))

        // The build image's Swift must be at least the manifest's swift-tools-version.
        let tools = try #require(
            package.split(separator: "\n").first?.split(separator: ":").last.map(String.init),
            "swift-tools-version line")
        let defaultSwift = try #require(
            dockerfile.split(separator: "\n").first { $0.hasPrefix("ARG SWIFT_VERSION=") }?
                .split(separator: "=").last.map(String.init),
            "ARG SWIFT_VERSION=")
        let version = { (text: String) in text.split(separator: ".").compactMap { Int($0) } }
        #expect(version(defaultSwift).lexicographicallyPrecedes(version(tools)) == false,
                "Swift \(defaultSwift) in the Dockerfile is older than swift-tools-version \(tools)")
        #expect(stages[0].hasPrefix("FROM swift:${SWIFT_VERSION}-noble"))
    }

    @Test func runtimeImageRunsAsTheDeploymentExpects() throws {
        try #require(stages.count == 2)
        let runtime = stages[1]
        // Same distribution as the build image, so the linked OpenSSL and zlib are the loaded ones.
        #expect(runtime.hasPrefix("FROM ubuntu:24.04"))
        for library in ["libssl3t64", "zlib1g"] {
            #expect(runtime.contains(library), "the runtime image does not install \(library)")
        }
        #expect(!runtime.contains("-dev"), "no development packages in the runtime image")

        let rendered = try Rendered(Variant.all[0])
        let container = try rendered.container()
        let user = try #require(container["securityContext"]["runAsUser"].int)
        #expect(runtime.contains("\nUSER \(user):\(user)"), "the image's USER is not the Deployment's uid \(user)")
        #expect(runtime.contains(#"ENTRYPOINT ["/usr/local/bin/tmm-webhook"]"#))
        #expect(runtime.contains("COPY --from=build /out/tmm-webhook /usr/local/bin/tmm-webhook"))
        #expect(stages[0].contains("/out/tmm-webhook"))
        #expect(runtime.contains("EXPOSE \(Names.containerPort)"))
        // The preStop hook runs /bin/sleep, which an Ubuntu base has (a distroless one would not).
        #expect(container["lifecycle"]["preStop"]["exec"]["command"].strings.first == "/bin/sleep")
    }

    @Test func dockerignoreKeepsKeysAndBuildOutputOut() throws {
        let ignore = try String(
            contentsOf: Kustomize.repositoryRoot.appendingPathComponent(".dockerignore"), encoding: .utf8)
        let lines = Set(ignore.split(separator: "\n").map(String.init))
        for pattern in [".build", ".git", "deploy/overlays/self-signed/certs", "**/*.key"] {
            #expect(lines.contains(pattern), ".dockerignore lacks \(pattern)")
        }
        for needed in ["Package.swift", "Sources", "Tests"] {
            #expect(!lines.contains(needed), ".dockerignore drops \(needed), which swift build needs")
        }
    }
}
