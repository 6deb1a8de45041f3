import Glibc
import TMMBase

/// Ports handed out by ``freePort()`` in this process, so two callers never get the same one.
private let handedOutPorts = Locked<Set<Int>>([])

public struct NoFreePort: Error, CustomStringConvertible {
    public var description: String { "no free TCP port on 127.0.0.1" }
}

/// A TCP port on 127.0.0.1 that nothing uses now: the kernel picks it, as for a connection's own port,
/// so it is not one another socket holds (a port drawn at random from a range can be: a server told to
/// listen there fails to start). Handed out once per process.
public func freePort() throws -> Int {
    for _ in 0..<50 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { break }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { continue }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        if handedOutPorts.withLock({ $0.insert(port).inserted }) { return port }
    }
    throw NoFreePort()
}
