// SlurmGate — at most N sbatch calls at once. 200 jobs dropped together would otherwise start
// 200 sbatch processes in the same instant: a burst of RPCs for slurmctld and of descriptors
// for the daemon. The gate lets them through a few at a time, in arrival order.

actor SlurmGate {
    private let limit: Int
    private var inUse = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) { self.limit = max(1, limit) }

    func acquire() async {
        if inUse < limit {
            inUse += 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty {
            inUse -= 1
        } else {
            waiting.removeFirst().resume()   // the slot passes straight on
        }
    }
}
