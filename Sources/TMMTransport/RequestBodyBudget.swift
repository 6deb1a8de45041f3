import Synchronization

/// The request-body bytes a server may hold at once, shared by its event loops.
///
/// A body's whole announced length is reserved when its head arrives (the receive buffer is sized for it
/// then) and given back when its response is written or its connection closes. Without such a bound, a
/// hundred connections each sending all but the last byte of a 7 MiB body held 700 MiB for the body
/// timeout, past the pod's memory limit.
final class RequestBodyBudget: Sendable {
    /// Bodies up to this size may use the whole budget; larger ones only `largeBodyCeiling` of it.
    static let smallBodyBytes = 256 * 1024

    let limit: Int
    /// What large bodies may fill together: three quarters of the limit, so the last quarter stays
    /// free for ordinary reviews while an attacker holds large bodies open.
    let largeBodyCeiling: Int
    private let used = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = max(0, limit)
        largeBodyCeiling = self.limit - self.limit / 4
    }

    /// Bytes held now.
    var held: Int { used.load(ordering: .relaxed) }

    /// Reserves `bytes` for a body; false when they do not fit.
    func reserve(_ bytes: Int) -> Bool {
        let ceiling = bytes <= Self.smallBodyBytes ? limit : largeBodyCeiling
        var current = used.load(ordering: .relaxed)
        while true {
            guard bytes <= ceiling - current else { return false }
            let (exchanged, original) = used.compareExchange(
                expected: current, desired: current + bytes, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
    }

    /// Gives back bytes reserved earlier.
    func release(_ bytes: Int) {
        used.subtract(bytes, ordering: .relaxed)
    }
}
