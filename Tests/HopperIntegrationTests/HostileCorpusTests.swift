// The hostile corpus (hostile/cases.tsv, hostile/files/) against the real daemon: every case
// ends in rejected/ with an .error.json that says why in words a person understands; nothing
// is accepted, nothing blocks, nothing stays in the inbox, and a valid manifest dropped
// afterwards still runs to completion. Plus a race: a file swapped for a symlink while the
// daemon takes it is never followed.
import Foundation
import HopperCore
import HopperTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// One line of hostile/cases.tsv.
struct HostileCase: Sendable, CustomStringConvertible {
    /// The name it is dropped under, as raw bytes (it may not be UTF-8).
    var name: [UInt8]
    var source: String
    var expect: String
    var what: String

    var shownName: String { String(decoding: name, as: UTF8.self) }
    var description: String { String(reflecting: shownName) }
}

enum HostileCorpus {
    static let directory = Paths.repo + "/hostile"

    static func load() throws -> [HostileCase] {
        let text = try String(contentsOfFile: directory + "/cases.tsv", encoding: .utf8)
        var cases: [HostileCase] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) where !line.hasPrefix("#") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 4 else { throw TestFailure("hostile/cases.tsv: bad line \(line)") }
            cases.append(HostileCase(name: unescape(fields[0]), source: fields[1], expect: fields[2], what: fields[3]))
        }
        return cases
    }

    /// `\n`, `\t`, `\\` and `\xHH` (a raw byte) in a name.
    static func unescape(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            guard b == UInt8(ascii: "\\"), i + 1 < bytes.count else {
                out.append(b)
                i += 1
                continue
            }
            let next = bytes[i + 1]
            if next == UInt8(ascii: "n") {
                out.append(0x0A)
                i += 2
            } else if next == UInt8(ascii: "t") {
                out.append(0x09)
                i += 2
            } else if next == UInt8(ascii: "x"), i + 3 < bytes.count,
                      let value = UInt8(String(decoding: bytes[(i + 2)...(i + 3)], as: UTF8.self), radix: 16) {
                out.append(value)
                i += 4
            } else {
                out.append(next)
                i += 2
            }
        }
        return out
    }
}

// MARK: - Byte paths (names need not be UTF-8)

/// Calls `body` with `path` as a NUL-terminated C string.
func withBytePath<R>(_ path: [UInt8], _ body: (UnsafePointer<CChar>) -> R) -> R {
    let terminated: [UInt8] = path + [0]
    return terminated.withUnsafeBufferPointer { buffer in
        buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: terminated.count) { body($0) }
    }
}

func bytePath(_ directory: String, _ name: [UInt8]) -> [UInt8] {
    Array(directory.utf8) + [UInt8(ascii: "/")] + name
}

/// The file type (S_IFMT bits) of a path, or nil when there is nothing.
func fileType(_ path: [UInt8]) -> mode_t? {
    var st = stat()
    let rc: Int32 = withBytePath(path) { lstat($0, &st) }
    return rc == 0 ? st.st_mode & S_IFMT : nil
}

func readBytes(_ path: [UInt8]) -> [UInt8]? {
    let fd: Int32 = withBytePath(path) { open($0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        out.append(contentsOf: buffer[0..<n])
    }
    return out
}

/// Names in a directory as raw bytes, without `.` and `..`.
func rawNames(_ directory: String) -> [[UInt8]] {
    guard let dir = opendir(directory) else { return [] }
    defer { closedir(dir) }
    var names: [[UInt8]] = []
    while let entry = readdir(dir) {
        let name: [UInt8] = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
        if name == [0x2E] || name == [0x2E, 0x2E] { continue }
        names.append(name)
    }
    return names
}

/// Writes `bytes` to a temporary file beside the spool, then renames it to `target`.
func dropBytes(_ bytes: [UInt8], at target: [UInt8], temporary: String, mode: mode_t = 0o644) throws {
    guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes)) else {
        throw TestFailure("cannot write \(temporary)")
    }
    chmod(temporary, mode)
    let rc: Int32 = withBytePath(target) { rename(temporary, $0) }
    guard rc == 0 else { throw TestFailure("rename to \(String(decoding: target, as: UTF8.self)): errno \(errno)") }
}

/// A listening Unix socket bound at `path` (the name stays after close).
func bindSocket(at path: [UInt8]) throws {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestFailure("socket: \(errno)") }
    defer { close(fd) }
    var addr = sockaddr_un()
    addr.sun_family = sa_family_t(AF_UNIX)
    let fits = withUnsafeMutableBytes(of: &addr.sun_path) { buf -> Bool in
        guard path.count < buf.count else { return false }
        for (i, b) in path.enumerated() { buf[i] = b }
        return true
    }
    guard fits else { throw TestFailure("socket path too long") }
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard rc == 0 else { throw TestFailure("bind: \(errno)") }
}

/// A valid inline manifest whose one step only runs `true`.
func trueManifest(_ description: String = "hostile corpus") -> String {
    "steps: [{name: ok, run: \"true\"}]\ndescription: \(description)\n"
}

extension Integration {
    @Suite struct HostileCorpusTests {
        /// Puts one case into the inbox. Returns false when it cannot be made here (a device
        /// node without CAP_MKNOD).
        func make(_ c: HostileCase, index: Int, spool: TestSpool, goodOutside: String) throws -> Bool {
            let target = bytePath(spool.writerLayout.inbox, c.name)  // from below on a shared drive
            let temporary = spool.base + "/.case-\(index).tmp"
            let steps = "steps: [{name: ok, run: \"true\"}]\n"
            switch c.source {
            case "file":
                guard let data = FileManager.default.contents(atPath: HostileCorpus.directory + "/files/" + c.shownName) else {
                    throw TestFailure("hostile/files/\(c.shownName) is missing")
                }
                try dropBytes([UInt8](data), at: target, temporary: temporary)
            case let s where s.hasPrefix("file:"):
                let file = String(s.dropFirst(5))
                guard let data = FileManager.default.contents(atPath: HostileCorpus.directory + "/files/" + file) else {
                    throw TestFailure("hostile/files/\(file) is missing")
                }
                try dropBytes([UInt8](data), at: target, temporary: temporary)
            case "good":
                try dropBytes(Array(trueManifest().utf8), at: target, temporary: temporary)
            case let s where s.hasPrefix("symlink:"):
                let what = String(s.dropFirst(8))
                let destination: [UInt8]
                switch what {
                case "good": destination = Array(goodOutside.utf8)
                case "dangling": destination = Array((spool.base + "/does-not-exist.yaml").utf8)
                case "self": destination = c.name
                default: destination = Array(what.utf8)
                }
                let rc: Int32 = withBytePath(destination) { d in withBytePath(target) { symlink(d, $0) } }
                guard rc == 0 else { throw TestFailure("symlink: \(errno)") }
            case "fifo":
                let rc: Int32 = withBytePath(target) { mkfifo($0, 0o644) }
                guard rc == 0 else { throw TestFailure("mkfifo: \(errno)") }
            case "socket":
                try bindSocket(at: target)
            case "device":
                // /dev/null's numbers: major 1, minor 3.
                let rc: Int32 = withBytePath(target) { mknod($0, S_IFCHR | 0o644, dev_t(0x103)) }
                if rc != 0 && (errno == EPERM || errno == EACCES) { return false }
                guard rc == 0 else { throw TestFailure("mknod: \(errno)") }
            case "directory":
                let rc: Int32 = withBytePath(target) { mkdir($0, 0o755) }
                guard rc == 0 else { throw TestFailure("mkdir: \(errno)") }
            case "hardlink":
                let source = spool.base + "/hardlink-source-\(index).yaml"
                try trueManifest().write(toFile: source, atomically: false, encoding: .utf8)
                let rc: Int32 = withBytePath(target) { link(source, $0) }
                guard rc == 0 else { throw TestFailure("link: \(errno)") }
            case "unreadable":
                // Mode 0: unreadable to the daemon (an unprivileged user, see startDaemon below).
                try dropBytes(Array(trueManifest().utf8), at: target, temporary: temporary, mode: 0)
            case "oversize":
                let limit = 1 << 20
                var bytes = Array("description: ".utf8)
                bytes += [UInt8](repeating: UInt8(ascii: "x"), count: limit + 1 - bytes.count)
                try dropBytes(bytes, at: target, temporary: temporary)
            case "huge-scalar":
                let text = "workflow: " + String(repeating: "w", count: 1_000_000) + "\n"
                try dropBytes(Array(text.utf8), at: target, temporary: temporary)
            case "huge-key":
                let text = steps + String(repeating: "k", count: 200_000) + ": 1\n"
                try dropBytes(Array(text.utf8), at: target, temporary: temporary)
            case "many-keys":
                var text = steps
                for i in 0..<60_000 { text += "key\(i): 1\n" }
                try dropBytes(Array(text.utf8), at: target, temporary: temporary)
            default:
                throw TestFailure("hostile/cases.tsv: unknown source \(c.source)")
            }
            return true
        }

        /// A spool whose daemon runs as `nobody` when the tests run as root (so that a file
        /// mode 0 is unreadable to it), else as the current user.
        func startUnprivileged(_ spool: TestSpool) throws {
            if getuid() == 0 {
                try spool.layout.create()
                let chown = try runProgram("/bin/chown", ["-R", "nobody:nogroup", spool.base])
                guard chown.code == 0 else { throw TestFailure("chown: \(chown.stderr)") }
                spool.launcher = ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
            }
            try spool.startDaemon()
        }

        @Test func theCorpusHasItsCases() throws {
            let cases = try HostileCorpus.load()
            #expect(cases.count >= 30)
            let names = cases.map(\.name)
            #expect(Set(names).count == names.count, "a name is listed twice")
            // Every file in hostile/files/ is a case, and every `file` case has its file.
            let files = Set(try FileManager.default.contentsOfDirectory(atPath: HostileCorpus.directory + "/files"))
            let listed = Set(cases.filter { $0.source == "file" }.map(\.shownName))
            #expect(files == listed, "not listed: \(files.subtracting(listed)); missing: \(listed.subtracting(files))")
        }

        @Test(arguments: SpoolPlace.allCases) func everyCaseIsRejectedWithItsReasonAndTheDaemonKeepsWorking(on place: SpoolPlace) throws {
            let cases = try HostileCorpus.load()
            let spool = try TestSpool(on: place)
            try startUnprivileged(spool)
            let goodOutside = spool.base + "/outside.yaml"
            try trueManifest("outside the inbox").write(toFile: goodOutside, atomically: true, encoding: .utf8)
            chmod(goodOutside, 0o644)

            var made: [HostileCase] = []
            var skipped: [String] = []
            for (i, c) in cases.enumerated() {
                if try make(c, index: i, spool: spool, goodOutside: goodOutside) {
                    made.append(c)
                } else {
                    skipped.append(c.shownName)
                }
            }
            #expect(skipped.count <= 1, "skipped: \(skipped)")

            // An unprivileged daemon cannot move a directory it may not write to (root made
            // them): the reason is written, and the directory stays.
            let unprivileged = getuid() == 0
            let stays = made.filter { $0.expect == "=stays" || (unprivileged && $0.source == "directory") }
            let stayNames = Set(stays.map(\.name))
            let rejected = spool.layout.rejected
            let allRejected = eventually(timeout: 120) {
                made.allSatisfy { c in
                    if c.expect == "=stays" { return true }
                    let reason = fileType(bytePath(rejected, c.name + Array(".error.json".utf8))) != nil
                    return reason && (stayNames.contains(c.name) || fileType(bytePath(rejected, c.name)) != nil)
                }
            }
            #expect(allRejected, "\(spool.logText())")
            for c in made where c.expect != "=stays" {
                let errorPath = bytePath(rejected, c.name + Array(".error.json".utf8))
                guard let bytes = readBytes(errorPath) else {
                    Issue.record("\(c): not rejected (\(c.what))")
                    continue
                }
                #expect(bytes.count < 16 * 1024, "\(c): .error.json is \(bytes.count) bytes")
                guard let r = try? JSON.decode(Rejection.self, from: bytes) else {
                    Issue.record("\(c): .error.json does not decode")
                    continue
                }
                let text = ([r.reason] + r.errors.map(\.message)).joined(separator: " ")
                #expect(text.contains(c.expect), "\(c) (\(c.what)): \(text)")
                #expect(!r.errors.isEmpty && r.errors.allSatisfy { !$0.message.isEmpty }, "\(c)")
                if stayNames.contains(c.name) {
                    #expect(text.contains("cannot move it out of the inbox"), "\(c): \(text)")
                }
            }

            // Nothing was accepted, nothing is left, nothing was followed.
            #expect(spool.outboxIDs().isEmpty, "accepted: \(spool.outboxIDs())")
            // What stays has its reason beside it (ProblemNotes): `<name>.error.json`.
            let notes = Set(stayNames.map { $0 + Array(".error.json".utf8) })
            let left = rawNames(spool.layout.inbox).filter { $0.first != 0x2E && !stayNames.contains($0) && !notes.contains($0) }
            #expect(left.isEmpty, "left in the inbox: \(left.map { String(decoding: $0, as: UTF8.self) })")
            for c in stays {
                #expect(fileType(bytePath(spool.layout.inbox, c.name)) != nil, "\(c) should have stayed in the inbox")
            }
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: rejected + "/symlink-shadow.yaml") == "/etc/shadow")
            #expect(fileType(Array((rejected + "/symlink-loop.yaml").utf8)) == S_IFLNK)
            #expect(fileType(Array((rejected + "/fifo.yaml").utf8)) == S_IFIFO)
            #expect(fileType(Array((rejected + "/socket.yaml").utf8)) == S_IFSOCK)
            if !unprivileged {
                #expect(fileType(Array((rejected + "/directory.yaml").utf8)) == S_IFDIR)
            }
            if !skipped.contains("device.yaml") {
                #expect(fileType(Array((rejected + "/device.yaml").utf8)) == S_IFCHR)
            }
            #expect(FileOps.exists(goodOutside))

            // Alive and responsive: a valid manifest dropped afterwards runs to completion.
            #expect(spool.daemon?.isRunning == true, "\(spool.logText())")
            try spool.drop("after-corpus.yaml", trueManifest("dropped after the corpus"))
            let completed = eventually(timeout: 60) { (try? spool.status("after-corpus"))?.state == .completed }
            #expect(completed, "\(spool.logText())")
            #expect(spool.outboxIDs() == ["after-corpus"])
            // An unmovable entry is in the heartbeat's problems while it is there.
            let stuck = Set(stays.filter { $0.source == "directory" }.map { spool.layout.inbox + "/" + $0.shownName })
            #expect(eventually { stuck.isSubset(of: spool.heartbeat()?.problems?.map(\.path) ?? []) },
                    "\(stuck) \(String(describing: spool.heartbeat()?.problems))")
            // ... and says so beside itself, in the inbox (the inbox is writable; the entry is not).
            for path in stuck {
                #expect(eventually { FileOps.exists(path + ".error.json") }, "no \(path).error.json")
                let note = try? JSON.decode(Rejection.self, from: try FileOps.readFile(path + ".error.json"))   // silent: checked next
                #expect(note?.errors.first?.message.contains("cannot move it out of the inbox") == true, "\(String(describing: note))")
            }
            // A name that is not UTF-8 cannot be taken: it is a problem too, saying to rename it.
            let notUTF8 = stays.filter { String(validating: $0.name, as: UTF8.self) == nil }.map { spool.layout.inbox + "/" + $0.shownName }
            #expect(eventually { Set(notUTF8).isSubset(of: spool.heartbeat()?.problems?.map(\.path) ?? []) },
                    "\(notUTF8) \(String(describing: spool.heartbeat()?.problems))")
            // ... and in the backlog metric with every other manifest-like name left in the inbox
            // (one that is not UTF-8): they wait for a person.
            func backlog() -> Int? {
                let text = (try? String(contentsOfFile: spool.layout.metrics + "/hopper.prom", encoding: .utf8)) ?? ""
                return text.split(separator: "\n").first { $0.hasPrefix("hopper_intake_backlog ") }.flatMap { Int($0.split(separator: " ")[1]) }
            }
            let waiting = stays.filter { DropNames.isPlausible($0.shownName) }.count
            #expect(waiting >= stuck.count)
            #expect(eventually { backlog() == waiting }, "backlog \(String(describing: backlog())), \(waiting) waiting: \(stays)")
            // An unmovable entry is reported once, not at every rescan.
            let log = spool.logText()
            for c in stays where c.source == "directory" {
                let lines = log.split(separator: "\n").filter { $0.contains("job.reject_unmovable") && $0.contains(c.shownName) }
                #expect(lines.count == 1, "\(c): \(lines)")
            }
        }

        /// A regular manifest is renamed over by a symlink (to a valid manifest outside the
        /// inbox) again and again while the daemon takes files. Whatever the interleaving, the
        /// daemon never follows a symlink: every symlink ends in rejected/, and whatever was
        /// accepted is a regular file holding the regular file's own content.
        /// A manifest in a queue folder the daemon may not write cannot be moved to rejected/,
        /// and no note can be written beside it: the reason is in rejected/<name>.error.json,
        /// the heartbeat's problems name it, the backlog counts it, and the failed note is
        /// logged once.
        @Test func aManifestInAFolderTheDaemonMayNotWriteIsAnsweredWhereItCanBe() throws {
            let spool = try TestSpool()
            try spool.layout.create()
            let folder = spool.layout.inbox + "/ro"
            func make() throws {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
                try "workflow: demo\nprority: 1\n".write(toFile: folder + "/x.yaml", atomically: true, encoding: .utf8)
            }
            // As root, the daemon runs as nobody: root's folder (0755), made once the spool is
            // nobody's, is not the daemon's to write. As another user, write is taken away.
            if getuid() == 0 {
                try startUnprivileged(spool)
                try make()
            } else {
                try make()
                chmod(folder, 0o555)
                try spool.startDaemon()
            }
            defer { chmod(folder, 0o755) }
            let entry = folder + "/x.yaml"
            #expect(eventually(timeout: 30) { FileOps.exists(spool.layout.rejected + "/x.yaml.error.json") }, "\(spool.logText())")
            let r = try spool.rejection("x.yaml")
            #expect(r.errors.contains { $0.message.contains("cannot move it out of the inbox") }, "\(r)")
            #expect(FileOps.exists(entry) && !FileOps.exists(spool.layout.rejected + "/x.yaml"))
            #expect(eventually { spool.heartbeat()?.problems?.contains { $0.path == entry } == true },
                    "\(String(describing: spool.heartbeat()?.problems))")
            #expect(!FileOps.exists(entry + ".error.json"))
            func backlog() -> Int? {
                let text = (try? String(contentsOfFile: spool.layout.metrics + "/hopper.prom", encoding: .utf8)) ?? ""   // silent: not written yet
                return text.split(separator: "\n").first { $0.hasPrefix("hopper_intake_backlog ") }.flatMap { Int($0.split(separator: " ")[1]) }
            }
            #expect(eventually { backlog() == 1 }, "\(String(describing: backlog()))")
            #expect(eventually { spool.logText().contains("inbox.problem_note_failed") })
            usleep(2_500_000)   // another heartbeat or two: the failure is not logged again
            let lines = spool.logText().split(separator: "\n").filter { $0.contains("inbox.problem_note_failed") }
            #expect(lines.count == 1, "\(lines)")
        }

        @Test func aFileSwappedForASymlinkIsNeverFollowed() throws {
            let spool = try TestSpool()
            try spool.startDaemon()
            let inbox = spool.layout.inbox
            let outside = spool.base + "/target.yaml"
            try trueManifest("SYMLINK TARGET").write(toFile: outside, atomically: true, encoding: .utf8)
            let rounds = 300
            for i in 0..<rounds {
                let name = "race-\(i).yaml"
                let regular = spool.base + "/.regular-\(i).tmp"
                try trueManifest("regular file \(i)").write(toFile: regular, atomically: false, encoding: .utf8)
                #expect(rename(regular, inbox + "/" + name) == 0)
                // A spread of delays (the same every run) so the swap lands at different points
                // of the daemon's work on the file.
                let delay = UInt32((i * 7) % 11) * 400
                if delay > 0 { usleep(delay) }
                let link = spool.base + "/.link-\(i).tmp"
                #expect(symlink(outside, link) == 0)
                #expect(rename(link, inbox + "/" + name) == 0)
            }
            let drained = eventually(timeout: 60) { spool.inboxNames().isEmpty }
            #expect(drained, "left: \(spool.inboxNames())\n\(spool.logText())")
            // Alive, and every earlier drop is settled once a later one has run.
            #expect(spool.daemon?.isRunning == true)
            try spool.drop("after-race.yaml", trueManifest("dropped after the race"))
            #expect(eventually(timeout: 60) { (try? spool.status("after-race"))?.state == .completed }, "\(spool.logText())")

            var accepted = 0
            for id in spool.outboxIDs() where id != "after-race" {
                guard id.hasPrefix("race-"), let i = Int(id.dropFirst(5)) else {
                    Issue.record("unexpected job \(id)")
                    continue
                }
                accepted += 1
                let manifest = Array(spool.layout.manifest(id).utf8)
                #expect(fileType(manifest) == S_IFREG, "\(id): manifest.yaml is not a regular file")
                let content = readBytes(manifest).map { String(decoding: $0, as: UTF8.self) }
                #expect(content == trueManifest("regular file \(i)"), "\(id): \(content ?? "unreadable")")
            }
            var symlinksRejected = [Int](repeating: 0, count: rounds)
            for name in (try? FileOps.listDirectory(spool.layout.rejected)) ?? [] where !name.hasSuffix(".error.json") {
                guard name.hasPrefix("race-") else { continue }
                let i = Int(name.dropFirst(5).prefix { $0.isNumber }) ?? -1
                guard i >= 0 && i < rounds else { continue }
                let type = fileType(Array((spool.layout.rejected + "/" + name).utf8))
                #expect(type == S_IFLNK, "\(name): a regular file was rejected")
                if type == S_IFLNK { symlinksRejected[i] += 1 }
                let r = try spool.rejection(name)
                #expect(["symlink", "changed while read"].contains(r.reason), "\(name): \(r.reason)")
            }
            #expect(symlinksRejected.allSatisfy { $0 == 1 }, "symlinks not rejected exactly once: \(symlinksRejected)")
            print("race: \(rounds) swaps, \(accepted) regular files accepted before their swap, \(rounds) symlinks rejected")
            #expect(try String(contentsOfFile: outside, encoding: .utf8) == trueManifest("SYMLINK TARGET"))
        }

        /// Queue names come from folder names: a folder whose name is not a valid queue name,
        /// a hidden one, and a symlink to a folder outside are never queues, so nothing in them
        /// is taken. What is dropped in a visible one is rejected unread, saying where to put it
        /// (issue 15); a hidden folder and a symlinked one are left alone; a symlink named like a
        /// manifest is rejected.
        @Test func foldersThatAreNotQueuesAreNeverEntered() throws {
            let spool = try TestSpool()
            try spool.startDaemon()
            let inbox = spool.layout.inbox
            let outsideDir = spool.base + "/elsewhere"
            try FileManager.default.createDirectory(atPath: outsideDir, withIntermediateDirectories: true)
            try trueManifest("outside").write(toFile: outsideDir + "/outside.yaml", atomically: true, encoding: .utf8)
            let badQueues = ["bad queue", "-dash", ".hidden", "new\nline", String(repeating: "q", count: 200)]
            for q in badQueues {
                try FileManager.default.createDirectory(atPath: inbox + "/" + q, withIntermediateDirectories: false)
                try trueManifest("in \(q)").write(toFile: inbox + "/" + q + "/.x.tmp", atomically: false, encoding: .utf8)
                #expect(rename(inbox + "/" + q + "/.x.tmp", inbox + "/" + q + "/inqueue.yaml") == 0)
            }
            #expect(symlink(outsideDir, inbox + "/linkq") == 0)
            #expect(symlink(outsideDir, inbox + "/linkdir.yaml") == 0)

            // A valid queue made afterwards works; by the time its job ran, the rest was seen.
            try FileManager.default.createDirectory(atPath: inbox + "/seq1", withIntermediateDirectories: false)
            #expect(eventually { spool.logText().contains("inbox.path=\(inbox)/seq1") }, "\(spool.logText())")
            try spool.drop("good-queue.yaml", trueManifest("in seq1"), queue: "seq1")
            #expect(eventually(timeout: 60) { (try? spool.status("good-queue"))?.state == .completed }, "\(spool.logText())")
            #expect(try spool.status("good-queue").queue == "seq1")

            #expect(eventually { spool.isRejected("linkdir.yaml") })
            #expect(try spool.rejection("linkdir.yaml").reason == "symlink")
            #expect(spool.outboxIDs() == ["good-queue"], "\(spool.outboxIDs())")
            let visible = badQueues.filter { !$0.hasPrefix(".") }
            #expect(eventually { visible.allSatisfy { !FileOps.exists(inbox + "/" + $0 + "/inqueue.yaml") } }, "\(spool.logText())")
            for name in ["inqueue.yaml"] + (2...visible.count).map({ "inqueue.yaml.\($0)" }) {
                #expect(spool.isRejected(name), "\(name)")
                #expect(try spool.rejection(name).reason == "not in an inbox folder")
            }
            #expect(FileOps.exists(inbox + "/.hidden/inqueue.yaml"))
            #expect(FileOps.exists(outsideDir + "/outside.yaml"))
            #expect(spool.daemon?.isRunning == true)
        }
    }
}
