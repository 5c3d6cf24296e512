// Power cuts while manifests flow and multi-step jobs with retries run, the spool on LazyFS
// (Support/PowerCut.swift). After every run:
//   - each file dropped by `hopper submit` is in exactly one place (accepted or rejected), and
//     so is every plain drop;
//   - every accepted job ends completed: an attempt a cut interrupted is recorded as
//     interrupted and run again, never failed for a torn record; no step ran more often than
//     status.json has attempts for it (each run leaves a line in a log on local disk, which the
//     cut does not touch);
//   - every status.json and events.jsonl parses, the store agrees with the spool, and every
//     published result verifies against SHA256SUMS.
// HOPPER_CRASH_CUTS sets the number of cuts (default 20; scripts/crashtest runs more).
import Foundation
import HopperCore
import HopperTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What the dropping thread did (shared with the test's thread).
final class DropLog: @unchecked Sendable {
    private let lock = NSLock()
    private var submitted: [String] = []
    private var plain: [String] = []
    private var failedSubmits = 0
    func add(submitted id: String) { lock.lock(); submitted.append(id); lock.unlock() }
    func add(plain id: String) { lock.lock(); plain.append(id); lock.unlock() }
    func failed() { lock.lock(); failedSubmits += 1; lock.unlock() }
    var snapshot: (submitted: [String], plain: [String], failed: Int) {
        lock.lock(); defer { lock.unlock() }
        return (submitted, plain, failedSubmits)
    }
}

extension Integration {
    @Suite struct PowerCut {
        static let cuts = Int(ProcessInfo.processInfo.environment["HOPPER_CRASH_CUTS"] ?? "") ?? 20

        func manifest(_ ran: String) -> String {
            """
            steps:
              - {name: a, run: "echo $HOPPER_JOB_ID a $HOPPER_ATTEMPT >> \(ran); sleep 0.$((RANDOM % 4))"}
              - {name: b, retries: 2, run: "echo $HOPPER_JOB_ID b $HOPPER_ATTEMPT >> \(ran); [ $HOPPER_ATTEMPT -ge 2 ]"}
              - {name: c, run: "echo $HOPPER_JOB_ID c $HOPPER_ATTEMPT >> \(ran); echo $HOPPER_JOB_ID > out.txt", outputs: [out.txt]}
            description: power cut test
            """
        }

        @Test func powerCutsLoseNothingAndRunNothingTwice() throws {
            let spool = try TestSpool(config: "max_running: 4", on: .powerCutDisk)
            let mount = try #require(spool.mount as? LazyMount)
            let ran = spool.base + "/ran.log"          // local disk: outside every cut
            let body = manifest(ran)
            try spool.startDaemon()

            // Drops: every other one by `hopper submit` (fsync, then rename), the others by a
            // plain write and rename (not fsynced: a cut can empty them), through the mount.
            let log = DropLog()
            let total = max(40, Self.cuts * 6)
            let stop = ManagedAtomicFlag()
            let source = spool.base + "/manifest.yaml"
            try body.write(toFile: source, atomically: true, encoding: .utf8)
            let inbox = spool.layout.inbox
            let root = spool.root
            let dropper = Thread {
                for i in 0..<total where !stop.isSet {
                    if i % 2 == 0 {
                        let id = "s\(i)"
                        let r = try? runProgram(Paths.hopper, ["submit", source, "--id", id, "--spool", root])
                        if r?.code == 0 { log.add(submitted: id) } else { log.failed() }
                    } else {
                        let id = "p\(i)"
                        let tmp = inbox + "/.\(id).yaml.tmp"
                        if (try? body.write(toFile: tmp, atomically: false, encoding: .utf8)) != nil, rename(tmp, inbox + "/\(id).yaml") == 0 {
                            log.add(plain: id)
                        }
                    }
                    usleep(UInt32.random(in: 20_000...120_000))
                }
                stop.set()
            }
            dropper.start()

            var cutsMade = 0
            while cutsMade < Self.cuts {
                usleep(UInt32.random(in: 200_000...1_200_000))
                try spool.powerCut(mount)
                cutsMade += 1
                try spool.startDaemon()
            }
            #expect(eventually(timeout: 120) { stop.isSet }, "the dropper did not finish")
            let drops = log.snapshot
            let all = drops.submitted + drops.plain

            // Everything settles: the inbox empties, every accepted job ends.
            #expect(eventually(timeout: 180) { spool.inboxNames().isEmpty }, "left in the inbox: \(spool.inboxNames())")
            let accepted = Set(spool.outboxIDs())
            let settled = eventually(timeout: 300) {
                accepted.allSatisfy { id in (try? spool.status(id)).map { $0.state.isTerminal } ?? false }
            }
            #expect(settled, "not terminal: \(accepted.filter { (try? spool.status($0))?.state.isTerminal != true }.sorted())\n\(spool.logText().suffix(4000))")

            // Each drop in exactly one place.
            let rejectedNames = Set(((try? FileOps.listDirectory(spool.layout.rejected)) ?? []).filter { !$0.hasSuffix(".error.json") })
            var lost: [String] = [], twice: [String] = []
            for id in all {
                let isAccepted = accepted.contains(id)
                let isRejected = rejectedNames.contains("\(id).yaml") || rejectedNames.contains { $0.hasPrefix("\(id).yaml.") }
                if !isAccepted && !isRejected { lost.append(id) }
                if isAccepted && isRejected { twice.append(id) }
            }
            #expect(lost.isEmpty, "lost: \(lost)")
            #expect(twice.isEmpty, "accepted and rejected: \(twice)")
            // A file `hopper submit` made durable before its rename is never rejected as empty.
            for id in drops.submitted { #expect(accepted.contains(id), "\(id) was submitted (fsynced) but not accepted") }

            // Every job completed; no step ran more often than status.json has attempts.
            var runs: [String: Int] = [:]
            for line in ((try? String(contentsOfFile: ran, encoding: .utf8)) ?? "").split(separator: "\n") {
                let parts = line.split(separator: " ")
                guard parts.count == 3 else { continue }
                runs["\(parts[0]) \(parts[1])", default: 0] += 1
            }
            var ranTwice: [String] = [], failed: [String] = [], interrupted = 0, emptiedCount = 0
            for id in accepted.sorted() {
                guard let status = try? spool.status(id) else {
                    Issue.record("\(id): status.json does not parse")
                    continue
                }
                // A plain drop (never fsynced) that a cut emptied after its acceptance fails
                // with that reason; everything else completes.
                let emptied = id.hasPrefix("p") && status.error?.message.contains("plan cannot be read") == true
                if emptied { emptiedCount += 1 }
                if status.state != .completed && !emptied { failed.append("\(id) \(status.state.rawValue): \(status.error?.message ?? "-")") }
                for step in status.steps {
                    interrupted += step.attempts.filter { $0.state == .interrupted }.count
                    let n = runs["\(id) \(step.name)"] ?? 0
                    if n > step.attempts.count { ranTwice.append("\(id) \(step.name): ran \(n) times, \(step.attempts.count) attempts") }
                }
                // events.jsonl: every line a whole JSON object.
                let events = (try? String(contentsOfFile: spool.layout.events(id), encoding: .utf8)) ?? ""
                for line in events.split(separator: "\n") where (try? JSONDecoder().decode(JobEvent.self, from: Data(line.utf8))) == nil {
                    Issue.record("\(id): torn line in events.jsonl: \(line.prefix(80))")
                }
                if status.state == .completed {
                    let verify = try spool.hopper("results", id, "--verify", "--config", spool.configPath)
                    #expect(verify.code == 0, "\(id): \(verify.stdout)\(verify.stderr)")
                }
            }
            #expect(failed.isEmpty, "not completed: \(failed)")
            #expect(ranTwice.isEmpty, "\(ranTwice)")

            // The store agrees with the spool.
            let ls = try spool.hopper("ls", "--config", spool.configPath, "--json", "--limit", "0")
            var stored: [String: String] = [:]
            for line in ls.stdout.split(separator: "\n") {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let id = object["id"] as? String, let state = object["state"] as? String else { continue }
                stored[id] = state
            }
            for id in accepted { #expect(stored[id] == (try? spool.status(id))?.state.rawValue, "\(id): store \(stored[id] ?? "none")") }

            print("power cuts: \(cutsMade) cuts, \(all.count) drops (\(drops.submitted.count) by hopper submit, \(drops.plain.count) plain; \(drops.failed) submits refused), \(accepted.count) jobs accepted, \(rejectedNames.count) rejected, \(interrupted) attempts interrupted and run again, \(emptiedCount) plain drops emptied after acceptance (failed with the reason); lost: \(lost.count), run twice: \(ranTwice.count)")
        }
    }
}

/// A flag set once, read from other threads.
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
