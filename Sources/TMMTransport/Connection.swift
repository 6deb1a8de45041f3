/// One client connection: its socket, its TLS session and its protocol state. Owned by a single event
/// loop and only touched on its thread.
final class Connection {
    let fd: Int32
    let id: UInt64
    let tls: TLSStream
    let remoteAddress: String
    /// Epoll events currently registered.
    var interest: UInt32 = 0
    /// The HTTP/1.1 side; the loop performs what it asks for.
    var machine: HTTPConnectionStateMachine

    init(fd: Int32, id: UInt64, tls: TLSStream, remoteAddress: String, machine: HTTPConnectionStateMachine) {
        self.fd = fd
        self.id = id
        self.tls = tls
        self.remoteAddress = remoteAddress
        self.machine = machine
    }
}
