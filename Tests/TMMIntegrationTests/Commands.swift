import Foundation
import Testing
import TMMBase
import TMMTestSupport

/// What a finished command printed, and how it ended.
struct CommandResult: Sendable, CustomStringConvertible {
    var arguments: [String]
    var status: Int32
    var stdout: String
    var stderr: String
    var succeeded: Bool { status == 0 }
    /// Both streams, for messages and for matching errors (kubectl prints them on stderr).
    var output: String { stdout + stderr }
    var description: String { "`\(arguments.joined(separator: " "))` exited \(status): \(output)" }
}

/// A scratch directory for command output, made once per test process.
private let scratch: String = {
    let path = NSTemporaryDirectory() + "tmm-integration-\(getpid())"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}()

/// Runs a command (PATH searched through `env`) to completion, stdout and stderr kept apart. A command
/// that outlives `timeout` is killed and reported as exit status -9.
func execute(_ arguments: [String], input: String? = nil, timeout: Double = 30) throws -> CommandResult {
    signal(SIGPIPE, SIG_IGN)
    let id = UUID().uuidString
    let outPath = "\(scratch)/\(id).out", errPath = "\(scratch)/\(id).err", inPath = "\(scratch)/\(id).in"
    _ = FileManager.default.createFile(atPath: outPath, contents: nil)
    _ = FileManager.default.createFile(atPath: errPath, contents: nil)
    _ = FileManager.default.createFile(atPath: inPath, contents: Data((input ?? "").utf8))
    defer { for path in [outPath, errPath, inPath] { try? FileManager.default.removeItem(atPath: path) } }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    let inHandle = try FileHandle(forReadingFrom: URL(fileURLWithPath: inPath))
    process.standardOutput = out
    process.standardError = err
    process.standardInput = inHandle
    try process.run()
    let timedOut = !waitForExit(process, timeout: timeout)
    if timedOut { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
    try out.close()
    try err.close()
    try inHandle.close()
    let stdout = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
    var stderr = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
    if timedOut { stderr += "\n(killed after \(timeout) s)" }
    return CommandResult(arguments: arguments, status: timedOut ? -9 : process.terminationStatus, stdout: stdout, stderr: stderr)
}

/// Runs several commands at the same time and returns their results in order.
func executeConcurrently(_ commands: [[String]], timeout: Double = 30) -> [Result<CommandResult, any Error>] {
    let results = Locked<[Int: Result<CommandResult, any Error>]>([:])
    let group = DispatchGroup()
    for (index, command) in commands.enumerated() {
        group.enter()
        Thread.detachNewThread {
            let result = Result { try execute(command, timeout: timeout) }
            results.withLock { $0[index] = result }
            group.leave()
        }
    }
    group.wait()
    return results.withLock { r in commands.indices.map { r[$0]! } }
}

/// The path of `tool` on PATH, or nil.
func which(_ tool: String) -> String? {
    guard let result = try? execute(["sh", "-c", "command -v \(tool)"]), result.succeeded else { return nil }
    let path = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    return path.isEmpty ? nil : path
}

/// Seconds since `start`.
func seconds(since start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

/// A failure of the test harness itself (a process that would not start, a tool missing).
struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Child processes still running; killed when the test process exits, whatever happened in the tests.
let liveChildren = Locked<Set<pid_t>>([])
/// Bulky directories (etcd's data) removed at exit; the logs next to them stay for reading.
let removeAtExit = Locked<[String]>([])
private let exitHookInstalled: Bool = {
    atexit {
        for pid in liveChildren.withLock({ $0 }) { kill(pid, SIGKILL) }
        for path in removeAtExit.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: path) }
    }
    return true
}()

/// A long-running child process (etcd, kube-apiserver, tmm-webhook, the forwarder) with its output in a
/// log file. Killed at test-process exit if still running.
final class ChildProcess: Sendable {
    let name: String
    let logPath: String
    private let process: Locked<Process>
    let pid: pid_t

    init(name: String, arguments: [String], logPath: String) throws {
        _ = exitHookInstalled
        self.name = name
        self.logPath = logPath
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        try process.run()
        try log.close()
        pid = process.processIdentifier
        liveChildren.withLock { _ = $0.insert(process.processIdentifier) }
        self.process = Locked(process)
    }

    var isRunning: Bool { process.withLock { $0.isRunning } }

    /// Sends `signal` and waits for the process to end (SIGKILL after `grace` seconds).
    func stop(signal: Int32 = SIGKILL, grace: Double = 10) {
        process.withLock { process in
            if process.isRunning {
                kill(process.processIdentifier, signal)
                if !waitForExit(process, timeout: grace) { kill(process.processIdentifier, SIGKILL) }
            }
            process.waitUntilExit()
        }
        liveChildren.withLock { _ = $0.remove(pid) }
    }

    /// Everything the process logged so far.
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// The last `count` lines of its log, for failure messages.
    func tail(_ count: Int = 20) -> String { log.split(separator: "\n").suffix(count).joined(separator: "\n") }
}
