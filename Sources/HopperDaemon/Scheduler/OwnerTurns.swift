// OwnerTurns — when each owner last started a job: the Scheduler's turn order between owners
// (StartOrder), which the heartbeat publishes (`owner_turns` in system/status.json) so that
// `hopper ls` can tell a pending job's position as the scheduler would take it.
import Synchronization

public final class OwnerTurns: Sendable {
    private struct Turns {
        var clock: UInt64 = 0
        var last: [String: UInt64] = [:]
    }
    private let turns = Mutex(Turns())

    public init() {}

    /// `owner` started a job now: its turn comes last among owners.
    func started(_ owner: String) {
        turns.withLock { t in
            t.clock += 1
            t.last[owner] = t.clock
        }
    }

    /// Each owner's last start (a counter: larger is more recent; absent: none since the daemon started).
    public var lastStart: [String: UInt64] { turns.withLock { $0.last } }

    /// The owners who started a job since the daemon started, least recent first.
    public var order: [String] {
        let last = lastStart
        return last.keys.sorted { (last[$0] ?? 0) < (last[$1] ?? 0) }
    }
}
