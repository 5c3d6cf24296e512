// PageSignals — how the pages learn what changed, without looking: the store says which jobs
// each write added, changed or removed (every state change of every job goes through it), and
// a job's runner hands over each status it writes (a running job's progress and current step,
// which the store does not hold). The pages service takes what gathered once a second.
import HopperCore
import Synchronization

public final class PageSignals: Sendable {
    struct Gathered: Sendable {
        /// Jobs whose page is out of date.
        var ids: Set<String> = []
        /// The latest status summary of jobs whose runner wrote one.
        var live: [String: JobSummary] = [:]
        var isEmpty: Bool { ids.isEmpty && live.isEmpty }
    }

    private let gathered = Mutex(Gathered())

    public init() {}

    /// Jobs added, changed or removed.
    public func changed(_ ids: [String]) {
        gathered.withLock { g in for id in ids { g.ids.insert(id) } }
    }

    /// A runner wrote `status`.
    public func wrote(_ status: JobStatus) {
        let summary = JobSummary(status)
        gathered.withLock { g in
            g.ids.insert(summary.id)
            g.live[summary.id] = summary
        }
    }

    /// What gathered since the last take.
    func take() -> Gathered {
        gathered.withLock { g in
            let out = g
            g = Gathered()
            return out
        }
    }
}
