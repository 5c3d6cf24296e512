// Intake+After — the checks of `after:` at intake: every job or group named exists (accepted
// before, or accepted in the same batch), belongs to the submitter unless the submitter is root
// or in `admin_group`, and no job waits for itself, directly or through others of its batch.
// Since a job may only wait for jobs that exist when it is accepted, and a job's `after:`
// never changes, no cycle can form later: cycles are refused here, whole.
import HopperCore
import HopperStore
import Logging
#if canImport(Glibc)
import Glibc
#endif

extension Intake {
    func checkDependencies(_ accepted: inout [Accepted], _ rejected: inout [Rejected]) {
        let named = Set(accepted.flatMap { dependencies(of: $0) })
        guard !named.isEmpty else { return }
        let ids = Array(named)
        let jobs = store.logged("states", logger: logger) { try $0.states(of: ids) } ?? [:]
        var groups: [String: Int64] = [:]
        for id in ids where jobs[id] == nil {
            if let g = store.logged("group", logger: logger, { try $0.group(id: id) }) ?? nil { groups[id] = g.uid }
        }
        // Jobs of this batch may wait for each other (`hopper submit a.yaml b.yaml`, seen
        // together): refused are those whose dependency is refused, and every job on a cycle.
        var alive = accepted
        var changed = true
        while changed {
            changed = false
            var batch: [String: uid_t] = [:]
            for a in alive {
                batch[a.id] = a.uid
                for child in a.group?.children ?? [] { batch[child.id] = a.uid }
            }
            var kept: [Accepted] = []
            for a in alive {
                if let problem = dependencyProblem(a, jobs: jobs, groups: groups, batch: batch) {
                    refuse(a, problem, &rejected)
                    changed = true
                } else {
                    kept.append(a)
                }
            }
            alive = kept
            if changed { continue }
            let cycles = Intake.cycles(alive.map { ($0.id, dependencies(of: $0)) })
            if !cycles.isEmpty {
                alive.removeAll { a in
                    guard let path = cycles[a.id] else { return false }
                    refuse(a, "dependency cycle: " + path.joined(separator: " → "), &rejected)
                    return true
                }
                changed = true
            }
        }
        accepted = alive
    }

    private func refuse(_ a: Accepted, _ problem: String, _ rejected: inout [Rejected]) {
        Glibc.close(a.fd)
        rejected.append(Rejected(candidate: a.candidate, reason: "invalid dependency",
                                 diagnostics: [Diagnostic(path: "after", message: problem)]))
    }

    /// The jobs on a cycle of `edges` (id → the ids it waits for), each with the cycle as a path.
    static func cycles(_ edges: [(String, [String])]) -> [String: [String]] {
        let graph = Dictionary(edges, uniquingKeysWith: { a, _ in a })
        var found: [String: [String]] = [:]
        for (start, _) in edges where found[start] == nil {
            var stack: [(String, [String])] = [(start, [start])]
            var seen = Set<String>()
            while let (node, path) = stack.popLast() {
                for next in graph[node] ?? [] where graph[next] != nil {
                    if next == start {
                        let cycle = path + [start]
                        for member in path where found[member] == nil { found[member] = cycle }
                    } else if seen.insert(next).inserted {
                        stack.append((next, path + [next]))
                    }
                }
            }
        }
        return found
    }

    func dependencies(of a: Accepted) -> [String] {
        a.group?.draft.after ?? a.manifest.after ?? []
    }

    func dependencyProblem(_ a: Accepted, jobs: [String: (state: JobState, uid: Int64)], groups: [String: Int64],
                           batch: [String: uid_t]) -> String? {
        let isAdmin = a.uid == 0 || settings.adminGroup.map { Accounts.isMember(uid: a.uid, gid: gid_t.max, ofGroup: $0) } == true
        for dep in dependencies(of: a) {
            if dep == a.id || a.group?.children.contains(where: { $0.id == dep }) == true {
                return "\(a.id) cannot wait for itself (a dependency cycle)"
            }
            let owner: Int64
            if let job = jobs[dep] {
                owner = job.uid
            } else if let g = groups[dep] {
                owner = g
            } else if let e = batch[dep] {
                owner = Int64(e)
            } else {
                return "job or group \(dep) does not exist; a job may wait only for jobs and groups accepted before it or with it"
            }
            if !isAdmin && owner != Int64(a.uid) {
                return "\(dep) belongs to \(Accounts.userName(uid_t(owner))); a job may wait only for its owner's jobs (or an admin's job for anyone's)"
            }
        }
        return nil
    }
}
