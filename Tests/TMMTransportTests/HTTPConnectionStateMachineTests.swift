import Logging
import Testing
import TMMBase
@testable import TMMTransport

/// The HTTP/1.1 connection protocol, driven transition by transition without sockets: each test feeds
/// the machine what the loop would see and checks the action it asks for.
@Suite struct HTTPConnectionStateMachineTests {
    typealias Machine = HTTPConnectionStateMachine

    /// Records what the machine reports, for the gauges and counters the server keeps.
    final class RecordingObserver: HTTPServerObserver {
        let log = Locked<[String]>([])
        func requestStarted(path: Substring) { log.withLock { $0.append("started \(path)") } }
        func requestFinished(path: Substring) { log.withLock { $0.append("finished \(path)") } }
        func responded(path: Substring, method: Substring, status: Int, duration: Duration) {
            log.withLock { $0.append("responded \(method) \(path) \(status)") }
        }
        func bodyRefused(bytes: Int) { log.withLock { $0.append("refused \(bytes)") } }
        var events: [String] { log.withLock { $0 } }
    }

    /// A moment `n` seconds after an arbitrary start: the tests hand the machine the time it would see.
    static func at(_ n: Double) -> Deadline { Deadline(uptimeNanoseconds: UInt64(1_000_000 + n * 1e9)) }

    static func limits() -> Machine.Limits {
        var configuration = HTTPServerConfiguration()
        configuration.maxHeaderBytes = 1024
        configuration.maxBodyBytes = 4096
        return Machine.Limits(configuration)
    }

    /// A machine whose handshake is done, as the loop has it when the first bytes can be read.
    static func connected(
        budget: RequestBodyBudget = RequestBodyBudget(limit: 1 << 20), observer: RecordingObserver = RecordingObserver()
    ) -> Machine {
        var machine = Machine(
            limits: limits(), remoteAddress: "127.0.0.1:5000", budget: budget, observer: observer,
            logger: Logger(label: "test"), handshakeDeadline: at(10))
        guard case .read = machine.handshakeCompleted(clientCertificateVerified: true, now: at(1)) else {
            Issue.record("a finished handshake should start reading")
            return machine
        }
        return machine
    }

    static func feed(_ machine: inout Machine, _ text: String, now: Deadline = at(2)) -> Machine.Action {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBytes { machine.received(UnsafeRawBufferPointer($0), now: now) }
    }

    /// Reads `bytes` as the event loop does: each read into `withReadSpace`'s room, at most `chunk` bytes
    /// (a TLS record), reported with `received(count:now:)`, until the machine stops asking for more.
    /// Returns the last action and the size of each room it was offered.
    static func read(
        _ machine: inout Machine, _ bytes: [UInt8], chunk: Int = 16 * 1024
    ) -> (action: Machine.Action, rooms: [Int]) {
        var offset = 0
        var rooms: [Int] = []
        var action = Machine.Action.read
        while case .read = action, offset < bytes.count {
            let n = machine.withReadSpace { room in
                rooms.append(room.count)
                let n = min(room.count, chunk, bytes.count - offset)
                bytes.withUnsafeBytes { room.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + n)])) }
                return n
            }
            offset += n
            action = machine.received(count: n, now: at(2))
        }
        return (action, rooms)
    }

    static func machine(maxHeaderBytes: Int, maxBodyBytes: Int) -> Machine {
        var configuration = HTTPServerConfiguration()
        configuration.maxHeaderBytes = maxHeaderBytes
        configuration.maxBodyBytes = maxBodyBytes
        var machine = Machine(
            limits: Machine.Limits(configuration), remoteAddress: "127.0.0.1:5000", budget: RequestBodyBudget(limit: 1 << 24),
            observer: RecordingObserver(), logger: Logger(label: "test"), handshakeDeadline: at(10))
        _ = machine.handshakeCompleted(clientCertificateVerified: false, now: at(1))
        return machine
    }

    static func output(_ machine: Machine) -> String {
        machine.withPendingOutput { String(decoding: $0, as: UTF8.self) }
    }

    /// Writes everything pending, as a socket that takes it all would.
    static func drain(_ machine: inout Machine, now: Deadline = at(3)) -> Machine.Action {
        let count = machine.withPendingOutput { $0.count }
        return machine.wrote(count, now: now)
    }

    static func dispatched(_ action: Machine.Action) -> HTTPRequest? {
        if case .dispatch(let request) = action { return request }
        return nil
    }

    static func isWrite(_ action: Machine.Action) -> Bool {
        if case .write = action { return true }
        return false
    }

    static func closeReason(_ action: Machine.Action?) -> String? {
        if case .close(let reason) = action { return reason }
        return nil
    }

    static func waitsFor(_ action: Machine.Action) -> Machine.Interest? {
        if case .wait(let interest) = action { return interest }
        return nil
    }

    @Test func aKeepAliveRequestIsDispatchedAnsweredAndTheConnectionReadsAgain() throws {
        let observer = RecordingObserver()
        var machine = Self.connected(observer: observer)
        let request = try #require(Self.dispatched(Self.feed(&machine, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")))
        #expect(request.method == "GET")
        #expect(request.path == "/healthz")
        #expect(request.clientCertificateVerified)
        #expect(machine.state == .processing)

        let write = machine.respond(.text(200, "ok\n"), serverDraining: false, now: Self.at(2))
        #expect(Self.isWrite(try #require(write)))
        let response = Self.output(machine)
        #expect(response.hasPrefix("HTTP/1.1 200"))
        #expect(response.hasSuffix("\r\n\r\nok\n"))
        #expect(!response.lowercased().contains("connection: close"))

        #expect(Self.waitsFor(Self.drain(&machine)) == .readable)
        #expect(machine.state == .reading)
        #expect(machine.isIdle)
        #expect(observer.events == ["started /healthz", "finished /healthz", "responded GET /healthz 200"])
    }

    @Test func aRequestArrivingOneByteAtATimeIsDispatchedOnlyWhenComplete() throws {
        var machine = Self.connected()
        let text = "POST /validate HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
        var last: Machine.Action = .read
        for (i, byte) in text.utf8.enumerated() {
            last = Self.feed(&machine, String(decoding: [byte], as: UTF8.self))
            if i < text.utf8.count - 1 {
                guard case .read = last else {
                    Issue.record("byte \(i) of \(text.utf8.count) should ask for more, got \(last)")
                    return
                }
            }
        }
        let request = try #require(Self.dispatched(last))
        #expect(Array(request.body) == Array("hello".utf8))
    }

    @Test func aBodyHoldsItsBudgetUntilTheResponseIsWritten() throws {
        let budget = RequestBodyBudget(limit: 1 << 20)
        var machine = Self.connected(budget: budget)
        #expect(Self.dispatched(Self.feed(&machine, "POST /validate HTTP/1.1\r\nContent-Length: 100\r\n\r\n")) == nil)
        #expect(budget.held == 100)
        _ = try #require(Self.dispatched(Self.feed(&machine, String(repeating: "x", count: 100))))
        #expect(budget.held == 100, "the handler still has the body")
        _ = machine.respond(.text(200, "ok"), serverDraining: false, now: Self.at(2))
        #expect(budget.held == 0)
    }

    @Test func aConnectionClosedMidBodyGivesItsBudgetBack() {
        let budget = RequestBodyBudget(limit: 1 << 20)
        var machine = Self.connected(budget: budget)
        _ = Self.feed(&machine, "POST /validate HTTP/1.1\r\nContent-Length: 1000\r\n\r\nabc")
        #expect(budget.held == 1000)
        machine.closed()
        #expect(budget.held == 0)
        #expect(machine.state == .closed)
    }

    @Test func aPipelinedRequestIsTakenFromTheBufferAfterTheFirstResponseWithoutAnotherRead() throws {
        var machine = Self.connected()
        let first = try #require(Self.dispatched(Self.feed(
            &machine, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n")))
        #expect(first.path == "/a")
        _ = machine.respond(.text(200, "a"), serverDraining: false, now: Self.at(2))
        let second = try #require(Self.dispatched(Self.drain(&machine)))
        #expect(second.path == "/b")
    }

    @Test(arguments: [100, 20_000, 32 * 1024, 100_000])
    func readsLandInTheReceiveBufferAndTheBodyComesWholeWhateverItsSize(bodySize: Int) throws {
        var machine = Self.machine(maxHeaderBytes: 1024, maxBodyBytes: 1 << 20)
        let body = (0..<bodySize).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let head = "POST /validate HTTP/1.1\r\nContent-Length: \(bodySize)\r\n\r\n"
        let (action, rooms) = Self.read(&machine, Array(head.utf8) + body)
        let request = try #require(Self.dispatched(action))
        #expect(Array(request.body) == body)
        // Once the head is parsed, each room is exactly the rest of the body: nothing past it is read.
        #expect(rooms.dropFirst().allSatisfy { $0 <= bodySize })
    }

    @Test func aHeadLargerThanTheReceiveBufferGrowsIt() throws {
        var machine = Self.machine(maxHeaderBytes: 200_000, maxBodyBytes: 1024)
        let filler = String(repeating: "a", count: 3 * Machine.receiveBufferSize)
        let text = "POST /validate HTTP/1.1\r\nX-Filler: \(filler)\r\nContent-Length: 2\r\n\r\n{}"
        let (action, _) = Self.read(&machine, Array(text.utf8), chunk: 1000)
        let request = try #require(Self.dispatched(action))
        #expect(request.header("X-Filler") == filler)
        #expect(Array(request.body) == Array("{}".utf8))
    }

    @Test func aPipelinedRequestSplitAcrossReadsIsJoinedAndTheFirstBodyKept() throws {
        var machine = Self.connected()
        let first = try #require(Self.dispatched(Self.feed(
            &machine, "POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloPOST /b HTTP/1.1\r\nContent-")))
        _ = machine.respond(.text(200, "a"), serverDraining: false, now: Self.at(2))
        #expect(Self.waitsFor(Self.drain(&machine)) == .readable)
        let second = try #require(Self.dispatched(Self.read(&machine, Array("Length: 5\r\n\r\nworld".utf8)).action))
        #expect(second.path == "/b")
        #expect(Array(second.body) == Array("world".utf8))
        #expect(Array(first.body) == Array("hello".utf8), "the second request's bytes must not land in the first's body")
    }

    @Test func connectionCloseClosesOnceTheResponseIsOut() {
        var machine = Self.connected()
        _ = Self.feed(&machine, "GET /a HTTP/1.1\r\nConnection: close\r\n\r\n")
        _ = machine.respond(.text(200, "a"), serverDraining: false, now: Self.at(2))
        #expect(Self.output(machine).lowercased().contains("connection: close"))
        #expect(Self.closeReason(Self.drain(&machine)) == "response complete")
    }

    @Test func aServerShuttingDownClosesAfterTheResponse() {
        var machine = Self.connected()
        _ = Self.feed(&machine, "GET /a HTTP/1.1\r\n\r\n")
        _ = machine.respond(.text(200, "a"), serverDraining: true, now: Self.at(2))
        #expect(Self.closeReason(Self.drain(&machine)) == "response complete")
    }

    @Test func headGetsTheHeadersOfGetAndNoBody() {
        var machine = Self.connected()
        _ = Self.feed(&machine, "HEAD /healthz HTTP/1.1\r\n\r\n")
        _ = machine.respond(.text(200, "ok\n"), serverDraining: false, now: Self.at(2))
        let response = Self.output(machine)
        #expect(response.contains("Content-Length: 3\r\n"))
        #expect(response.hasSuffix("\r\n\r\n"))
    }

    @Test func expectContinueWritesTheInterimResponseThenReadsTheBody() throws {
        var machine = Self.connected()
        let action = Self.feed(&machine, "POST /validate HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
        #expect(Self.isWrite(action))
        #expect(Self.output(machine) == "HTTP/1.1 100 Continue\r\n\r\n")
        guard case .read = Self.drain(&machine) else {
            Issue.record("after 100 Continue the body should be read")
            return
        }
        let request = try #require(Self.dispatched(Self.feed(&machine, "{}")))
        #expect(Array(request.body) == Array("{}".utf8))
    }

    @Test(arguments: [
        ("POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n", 413),
        ("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 2000), 431),
        ("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        ("GARBAGE\r\n\r\n", 400),
    ])
    func malformedOrOversizedRequestsAreRefusedAndTheConnectionClosed(head: String, status: Int) {
        var machine = Self.connected()
        #expect(Self.isWrite(Self.feed(&machine, head)))
        #expect(Self.output(machine).hasPrefix("HTTP/1.1 \(status) "))
        #expect(Self.closeReason(Self.drain(&machine)) == "response complete")
    }

    @Test func aBodyPastTheServerWideBudgetGets503WithRetryAfterBeforeItIsRead() {
        let budget = RequestBodyBudget(limit: 1000)
        let observer = RecordingObserver()
        var machine = Self.connected(budget: budget, observer: observer)
        #expect(Self.isWrite(Self.feed(&machine, "POST /validate HTTP/1.1\r\nContent-Length: 2000\r\n\r\n")))
        let response = Self.output(machine)
        #expect(response.hasPrefix("HTTP/1.1 503 "))
        #expect(response.contains("Retry-After: 1\r\n"))
        #expect(budget.held == 0)
        #expect(observer.events.contains("refused 2000"))
    }

    @Test func aHangUpWhileReadingReadsWhatCameThenCloses() {
        var machine = Self.connected()
        guard case .read = machine.socketReady(hungUp: true) else {
            Issue.record("what came before the hang-up should be read")
            return
        }
        #expect(Self.closeReason(machine.readWouldBlock()) == "peer closed")
    }

    @Test func aHangUpWhileTheHandlerDecidesOrTheResponseIsWrittenClosesAtOnce() {
        var processing = Self.connected()
        _ = Self.feed(&processing, "GET /hang HTTP/1.1\r\n\r\n")
        #expect(Self.closeReason(processing.socketReady(hungUp: true)) == "peer closed while its request was processed")

        var writing = Self.connected()
        _ = Self.feed(&writing, "GET /big HTTP/1.1\r\n\r\n")
        _ = writing.respond(.text(200, String(repeating: "x", count: 1000)), serverDraining: false, now: Self.at(2))
        #expect(Self.waitsFor(writing.wrote(10, now: Self.at(2))) == nil, "a partial write asks to write on")
        #expect(Self.waitsFor(writing.writeBlocked(now: Self.at(2))) == .writable)
        #expect(Self.closeReason(writing.socketReady(hungUp: true)) == "peer closed during a response")
    }

    @Test func eachPhaseTimesOutItsOwnWay() {
        var idle = Self.connected()
        let early = idle.timedOut(now: Self.at(2))
        #expect(early == nil)
        #expect(Self.closeReason(idle.timedOut(now: Self.at(200))) == "idle timeout")

        var partial = Self.connected()
        _ = Self.feed(&partial, "GET / HTTP/1.1\r\n")
        #expect(Self.isWrite(partial.timedOut(now: Self.at(100)) ?? .read))
        #expect(Self.output(partial).hasPrefix("HTTP/1.1 408 "))

        var processing = Self.connected()
        _ = Self.feed(&processing, "GET / HTTP/1.1\r\n\r\n")
        let whileDeciding = processing.timedOut(now: Self.at(10_000))
        #expect(whileDeciding == nil, "the handler bounds its own work")

        var writing = Self.connected()
        _ = Self.feed(&writing, "GET / HTTP/1.1\r\n\r\n")
        _ = writing.respond(.text(200, "x"), serverDraining: false, now: Self.at(2))
        #expect(Self.closeReason(writing.timedOut(now: Self.at(100))) == "write timeout")

        var handshaking = Machine(
            limits: Self.limits(), remoteAddress: "peer", budget: RequestBodyBudget(limit: 10),
            observer: RecordingObserver(), logger: Logger(label: "test"), handshakeDeadline: Self.at(10))
        #expect(Self.closeReason(handshaking.timedOut(now: Self.at(10))) == "handshake timeout")
    }

    @Test func anAnswerForAConnectionThatMovedOnIsDropped() {
        var machine = Self.connected()
        let early = machine.respond(.text(200, "late"), serverDraining: false, now: Self.at(2))
        #expect(early == nil, "no request was dispatched")
        _ = Self.feed(&machine, "GET / HTTP/1.1\r\n\r\n")
        machine.closed()
        let late = machine.respond(.text(200, "late"), serverDraining: false, now: Self.at(2))
        #expect(late == nil, "the connection is closed")
    }

    @Test func aStreamedResponseWaitsForItsPartsAndEndsKeepingTheConnection() {
        var machine = Self.connected()
        _ = Self.feed(&machine, "GET /watch HTTP/1.1\r\n\r\n")
        #expect(Self.isWrite(machine.respondStreaming(.text(200, "first"), serverDraining: false, now: Self.at(2)) ?? .read))
        #expect(Self.output(machine).contains("Transfer-Encoding: chunked"))
        #expect(Self.waitsFor(Self.drain(&machine)) == .hangUpOnly)
        let quiet = machine.timedOut(now: Self.at(10_000))
        #expect(quiet == nil, "a quiet stream does not time out")

        #expect(Self.isWrite(machine.streamPart(.chunk(Array("next".utf8)), now: Self.at(2)) ?? .read))
        #expect(Self.output(machine) == "4\r\nnext\r\n")
        #expect(Self.waitsFor(Self.drain(&machine)) == .hangUpOnly)

        #expect(Self.isWrite(machine.streamPart(.finish, now: Self.at(2)) ?? .read))
        #expect(Self.output(machine) == "0\r\n\r\n")
        #expect(Self.waitsFor(Self.drain(&machine)) == .readable)
        #expect(machine.state == .reading)
    }
}

