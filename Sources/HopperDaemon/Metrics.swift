// Metrics — `metrics/hopper.prom` in the Prometheus text format (node_exporter's textfile
// collector reads it), written atomically with every heartbeat.
//
//   hopper_jobs{state="…"}                  gauge      jobs by state (from the store)
//   hopper_step_duration_seconds            histogram  finished step attempts since start
//   hopper_intake_backlog                   gauge      files in the inboxes waiting for an answer, and
//                                                      folders manifests are not taken from
//   hopper_accepted_total, hopper_rejected_total  counter  since start
//   hopper_heartbeat_timestamp_seconds      gauge      when this file was written
import HopperCore
import HopperWatch
import Synchronization

public final class Metrics: Sendable {
    /// Upper bounds (seconds) of the step-duration buckets.
    public static let buckets: [Double] = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400, 86400]

    private struct Histogram { var counts = [Int](repeating: 0, count: Metrics.buckets.count); var sum = 0.0; var count = 0 }
    private let steps = Mutex(Histogram())

    public init() {}

    public func observeStep(seconds: Double) {
        steps.withLock { h in
            for (i, bound) in Metrics.buckets.enumerated() where seconds <= bound { h.counts[i] += 1 }
            h.sum += seconds
            h.count += 1
        }
    }

    public func render(jobs: [String: Int], backlog: Int, accepted: Int, rejected: Int, now: Double) -> String {
        var out = "# HELP hopper_jobs Jobs by state.\n# TYPE hopper_jobs gauge\n"
        for state in JobState.allCases {
            out += "hopper_jobs{state=\"\(state.rawValue)\"} \(jobs[state.rawValue] ?? 0)\n"
        }
        let h = steps.withLock { $0 }
        out += "# HELP hopper_step_duration_seconds Duration of step attempts finished since the daemon started.\n"
        out += "# TYPE hopper_step_duration_seconds histogram\n"
        for (i, bound) in Metrics.buckets.enumerated() {
            out += "hopper_step_duration_seconds_bucket{le=\"\(Self.number(bound))\"} \(h.counts[i])\n"
        }
        out += "hopper_step_duration_seconds_bucket{le=\"+Inf\"} \(h.count)\n"
        out += "hopper_step_duration_seconds_sum \(Self.number(h.sum))\n"
        out += "hopper_step_duration_seconds_count \(h.count)\n"
        out += "# HELP hopper_intake_backlog Files in the inboxes waiting for an answer (manifests, misnamed or in the wrong folder), and folders manifests are not taken from.\n# TYPE hopper_intake_backlog gauge\n"
        out += "hopper_intake_backlog \(backlog)\n"
        out += "# HELP hopper_accepted_total Manifests accepted since the daemon started.\n# TYPE hopper_accepted_total counter\n"
        out += "hopper_accepted_total \(accepted)\n"
        out += "# HELP hopper_rejected_total Files rejected since the daemon started.\n# TYPE hopper_rejected_total counter\n"
        out += "hopper_rejected_total \(rejected)\n"
        out += "# HELP hopper_heartbeat_timestamp_seconds When the daemon last wrote this file (Unix time).\n"
        out += "# TYPE hopper_heartbeat_timestamp_seconds gauge\n"
        out += "hopper_heartbeat_timestamp_seconds \(Self.number((now * 1000).rounded() / 1000))\n"
        return out
    }

    static func number(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
    }

    /// Files waiting for an answer: manifests, misnamed manifests (`RUN.YAML`) and files in
    /// folders manifests are not taken from, in the inbox and every folder the watcher watches;
    /// and each such folder itself (`inbox/My Queue/`: someone must rename or move it).
    public static func backlog(_ layout: SpoolLayout, watcher: InboxWatcher) -> Int {
        var folders = Set(watcher.watchModes().map(\.folder))
        let problems = watcher.problems().map(\.path)
        folders.formUnion(problems)
        folders.insert(layout.inbox)
        var n = problems.filter { FileOps.isDirectory($0) }.count
        for folder in folders {
            // silent: a backlog gauge; an unreadable folder counts 0 and the watcher logs it.
            n += ((try? FileOps.listDirectory(folder)) ?? []).filter(DropNames.isPlausible).count
        }
        return n
    }
}
