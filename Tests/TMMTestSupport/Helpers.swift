public import Foundation
import Testing

/// A fresh temporary directory.
public func temporaryDirectory() throws -> String {
    let directory = NSTemporaryDirectory() + "tmm-test-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    return directory
}

public func write(_ text: String, to path: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
}

public func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

/// Runs a command (through `env`, so PATH is searched), feeding `input`, and returns its exit status
/// and its standard output and error together. A command that outlives `timeout` is killed and recorded.
@discardableResult
public func run(_ arguments: [String], input: Data = Data(), timeout: Double = 20) throws -> (status: Int32, output: String) {
    // Writing to a command that has exited must be an error, not a signal that kills the test process.
    signal(SIGPIPE, SIG_IGN)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let outFile = try temporaryDirectory() + "/output"
    _ = FileManager.default.createFile(atPath: outFile, contents: nil)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: outFile))
    process.standardOutput = handle
    process.standardError = handle
    let inPipe = Pipe()
    process.standardInput = inPipe
    try process.run()
    // Feed the input from another thread: a large input must not block us while the command waits.
    // The throwing write: a command that exits without reading its input must not crash the tests (EPIPE).
    let writer = Thread {
        if !input.isEmpty { try? inPipe.fileHandleForWriting.write(contentsOf: input) }
        try? inPipe.fileHandleForWriting.close()
    }
    writer.start()
    if !waitForExit(process, timeout: timeout) {
        process.terminate()
        Issue.record("\(arguments.joined(separator: " ")) timed out after \(timeout) s")
    }
    process.waitUntilExit()
    try handle.close()
    let output = (try? String(contentsOfFile: outFile, encoding: .utf8)) ?? ""
    return (process.terminationStatus, output)
}

/// True when `tool` is on PATH; records a failure naming it otherwise (CI installs every tool used).
public func require(tool: String) -> Bool {
    let found = (try? run(["sh", "-c", "command -v \(tool)"]).status) == 0
    if !found { Issue.record("\(tool) is not installed; .ci/run installs it (apt-get install \(tool))") }
    return found
}

/// The built `tmm-webhook` executable, next to the test bundle (`swift test` builds it).
public func webhookExecutable() throws -> String {
    let exe = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
    let candidate = exe.deletingLastPathComponent().appendingPathComponent("tmm-webhook").path
    try #require(FileManager.default.isExecutableFile(atPath: candidate), "build the executable first: swift build (looked at \(candidate))")
    return candidate
}

/// The root of the package (where Package.swift is).
public let packageRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    while url.path != "/" {
        url.deleteLastPathComponent()
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
    }
    return FileManager.default.currentDirectoryPath
}()

/// Sends `process`'s output to a file in `directory`; returns a reader of it, for failure messages (a
/// server that cannot bind its port says so there and exits).
public func serverLog(for process: Process, in directory: String) throws -> () -> String {
    let path = directory + "/server.log"
    guard FileManager.default.createFile(atPath: path, contents: nil) else { throw CocoaError(.fileWriteUnknown) }
    let output = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    process.standardOutput = output
    process.standardError = output
    return { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
}
