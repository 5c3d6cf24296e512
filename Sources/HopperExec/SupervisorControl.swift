// SupervisorControl — how the daemon ends an attempt: it asks, the supervisor ends the step.
//
// One owner for ending a step: hopper-supervise. To cancel, the daemon sends SIGTERM to the
// supervisor's pid alone; the supervisor sends SIGTERM to the step's process group, waits its
// --grace, sends SIGKILL to the group, and writes its `cancelled` exit record before it exits.
// The daemon's SIGKILL is a backstop only, in two stages. `grace + backstopMargin` after asking,
// with the supervisor still running, the step's processes are killed (every member of the
// supervisor's session but the supervisor): a supervisor that is merely slow — a loaded
// machine — then reaps its step and writes the `cancelled` record as it would have. Another
// `backstopMargin` later a supervisor still running is wedged, and is killed too.
import HopperCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One supervisor the daemon started (`LocalExecutor.run`): its pid while it may be signalled,
/// and whether it was asked to end the step.
final class SupervisorControl: Sendable {
    private struct State {
        var pid: Int32 = 0
        /// Reaped (or never started): its pid may belong to someone else now.
        var finished = false
        var cancelRequested = false
        var asked = false
    }
    private let state = Mutex(State())

    /// Whether the step was cancelled (whatever the supervisor made of it).
    var cancelRequested: Bool { state.withLock { $0.cancelRequested } }

    /// The supervisor is running as `pid` (not yet reaped). A cancel that came first is sent now.
    func started(_ pid: Int32) {
        state.withLock { s in
            s.pid = pid
            if s.cancelRequested && !s.asked && !s.finished {
                kill(pid, SIGTERM)
                s.asked = true
            }
        }
    }

    /// The supervisor has been reaped: its pid is never signalled again.
    func finished() {
        state.withLock { $0.finished = true }
    }

    /// Asks the supervisor to end the step (now, or as soon as it has started) and arms the
    /// backstop: the step's processes `backstopAfter` seconds later, the supervisor `margin`
    /// after that.
    func cancel(backstopAfter: Double, margin: Double) {
        let armed: Bool = state.withLock { s in
            if s.finished || s.cancelRequested { return false }
            s.cancelRequested = true
            if s.pid > 0 {
                kill(s.pid, SIGTERM)
                s.asked = true
            }
            return true
        }
        guard armed else { return }
        let ms = Int64(max(0, backstopAfter) * 1000)
        let again = Int64(max(0, margin) * 1000)
        Task.detached { [self] in
            // silent: a detached task is never cancelled; the sleeps run out.
            try? await Task.sleep(for: .milliseconds(ms))
            guard self.backstop(supervisorToo: false) else { return }
            // silent: as above.
            try? await Task.sleep(for: .milliseconds(again))
            _ = self.backstop(supervisorToo: true)
        }
    }

    /// SIGKILL to the step's processes of a supervisor that has not ended by now (and, with
    /// `supervisorToo`, to it as well). False when it had ended.
    func backstop(supervisorToo: Bool) -> Bool {
        state.withLock { s in
            guard !s.finished, s.pid > 0 else { return false }
            if supervisorToo {
                LocalExecutor.killSession(s.pid)
            } else {
                LocalExecutor.killStep(ofSupervisor: s.pid)
            }
            return true
        }
    }
}

extension LocalExecutor {
    /// SIGKILL to every process of the supervisor `sid`'s session but the supervisor: its step's
    /// group and whatever that started, a few rounds until none is left. The backstop's first
    /// stage: a supervisor that still answers records the end.
    static func killStep(ofSupervisor sid: Int32) {
        for _ in 0..<5 {
            let members: [Int32] = sessionMembers(sid).filter { $0 != sid }
            if members.isEmpty { return }
            for pid in members { kill(pid, SIGKILL) }
        }
    }

    /// SIGKILL to the supervisor `sid` (a session leader), its process group, and every process
    /// of its session (its step's group and whatever that started), a few rounds until none is
    /// left. The backstop for a wedged supervisor; never on the normal path.
    static func killSession(_ sid: Int32) {
        kill(sid, SIGKILL)
        kill(-sid, SIGKILL)
        for _ in 0..<5 {
            let members: [Int32] = sessionMembers(sid)
            if members.isEmpty { return }
            for pid in members { kill(pid, SIGKILL) }
        }
    }

    /// Live (not zombie) processes whose session is `sid`.
    static func sessionMembers(_ sid: Int32) -> [Int32] {
        var found: [Int32] = []
        for name in (try? FileOps.listDirectory("/proc")) ?? [] {
            guard let pid = Int32(name), let fields = statFields(pid), fields.count > 3 else { continue }
            if fields[0] != "Z" && Int32(fields[3]) == sid { found.append(pid) }
        }
        return found
    }

    /// The fields of /proc/<pid>/stat after the command name: state, ppid, pgrp, session, ….
    static func statFields(_ pid: Int32) -> [String]? { Procfs.statFields(pid) }

    /// Field 22 of /proc/<pid>/stat (start time in clock ticks), or nil.
    static func procStart(_ pid: Int32) -> Int? {
        guard let fields = statFields(pid), fields.count > 19 else { return nil }
        return Int(fields[19])
    }

    /// The real uid of a process (`Uid:` in /proc/<pid>/status), or nil.
    public static func processUID(_ pid: Int32) -> uid_t? {
        guard let bytes = try? FileOps.readFile("/proc/\(pid)/status", limit: 16384) else { return nil }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("Uid:") {
            return line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap { uid_t($0) }
        }
        return nil
    }

    /// A sleep that a cancelled task still takes (Task.sleep returns at once there).
    static func pause(_ seconds: Double) async {
        let ms = Int64(seconds * 1000)
        await Task.detached { try? await Task.sleep(for: .milliseconds(ms)) }.value
    }
}
