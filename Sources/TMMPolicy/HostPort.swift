/// A port a container asks of its node (`ports[].hostPort`), as the NodePorts filter compares them.
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    /// The port on the node.
    public var port: Int32
    /// `TCP` (the default), `UDP` or `SCTP`.
    public var `protocol`: String
    /// `hostIP`; empty or `0.0.0.0` means every address of the node.
    public var hostIP: String

    /// Creates a host port.
    public init(port: Int32, protocol: String = "TCP", hostIP: String = "") {
        self.port = port
        self.protocol = `protocol`
        self.hostIP = hostIP
    }

    /// True when both cannot be bound on one node: same port and protocol, and the same address or
    /// either one on every address.
    public func conflicts(with other: HostPort) -> Bool {
        guard port == other.port, `protocol` == other.protocol else { return false }
        return wildcard || other.wildcard || hostIP == other.hostIP
    }

    var wildcard: Bool { hostIP.isEmpty || hostIP == "0.0.0.0" || hostIP == "::" }

    /// `9100/TCP`, or `10.0.0.1:9100/TCP`.
    public var description: String { (wildcard ? "" : "\(hostIP):") + "\(port)/\(`protocol`)" }
}
