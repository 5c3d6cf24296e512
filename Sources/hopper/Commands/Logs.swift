// hopper logs — a job's step logs (`outbox/<id>/logs/<step>.log`), streamed in chunks.
//
// With a STEP, that step's log as it is; without, every step's log in step order, each after a
// `==> logs/<step>.log <==` header (as `tail` shows several files). --follow keeps printing
// bytes as they are appended (the size is polled every 200 ms: works over NFS), follows the
// logs of later steps as they appear, and stops once the job is terminal, after printing what
// was written before its final status. While no daemon writes a heartbeat, it says so on
// stderr (DaemonWatch) and goes on following.
import ArgumentParser
import HopperCore
#if canImport(Glibc)
import Glibc
#endif

extension Hopper {
    struct Logs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a job's step logs.")

        @OptionGroup var spoolOptions: SpoolOptions

        @Argument(help: ArgumentHelp("The job id.", valueName: "id"), completion: Completions.jobIDs)
        var id: String

        @Argument(help: ArgumentHelp("Only this step's log (default: every step's, in order).", valueName: "step"), completion: Completions.steps)
        var step: String?

        @Flag(name: [.short, .long], help: "Keep printing as the logs grow, until the job ends.")
        var follow = false

        func validate() throws {
            if let problem = Names.jobIDProblem(id) { throw ValidationError(problem) }
        }

        func run() async throws {
            let layout = try spoolOptions.resolve().layout
            var status = try loadJob(id, layout)
            let names = status.steps.map(\.name).filter { Names.isValid($0) }
            if let step, !names.contains(step) {
                throw CLIError("job \(id) has no step \(String(reflecting: step)); its steps are \(names.joined(separator: ", "))")
            }
            let shown = step.map { [$0] } ?? names
            var out = LogPrinter(job: layout.job(id), headers: step == nil)

            if !follow {
                for name in shown {
                    if try !out.print(name, header: true) {
                        Console.err("\(Self.missing(name, status))\n")
                    }
                }
                return
            }

            // The first pass shows what is there; later passes print what grew.
            for name in shown {
                if try !out.print(name, header: true), step != nil {
                    Console.err("\(Self.missing(name, status)); waiting for it\n")
                }
            }
            var watch = DaemonWatch(layout)
            while !status.state.isTerminal {
                watch.warn()
                try await Task.sleep(for: .milliseconds(200))
                // Status first: every byte written before a terminal status is printed below.
                if let bytes = try? FileOps.readFile(layout.status(id)),
                   let latest = try? JSON.decode(JobStatus.self, from: bytes) {
                    status = latest
                }
                for name in shown { _ = try out.print(name, header: false) }
            }
        }

        static func missing(_ name: String, _ status: JobStatus) -> String {
            let state = status.steps.first { $0.name == name }?.state ?? .pending
            if state == .skipped { return "step \(name) has no log (state skipped)" }
            return "step \(name) has no log yet (state \(state.rawValue))"
        }
    }
}

/// Copies logs to stdout from where it left off in each, with headers when it switches files.
struct LogPrinter {
    let job: String
    let headers: Bool
    var offsets: [String: Int64] = [:]
    /// The log last printed from; a header is printed when switching to another.
    var current: String?
    var printedAny = false
    var endsWithNewline = true

    init(job: String, headers: Bool) { self.job = job; self.headers = headers }

    /// Prints what `name`'s log holds beyond its offset. With `header`, the header is printed
    /// even when nothing new is there (first pass). Returns false when the log does not exist.
    mutating func print(_ name: String, header: Bool) throws -> Bool {
        let relative = JobFolder.logRelative(step: name)
        let path = job + "/" + relative
        let fd: Int32
        do { fd = try FileOps.open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK) } catch {
            if error.errno == ENOENT || error.errno == ENOTDIR { return false }
            throw CLIError("cannot read \(path): \(error.message)")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw CLIError("cannot read \(path): \(SystemError("fstat", path: path).message)") }
        var offset = offsets[name] ?? 0
        if Int64(st.st_size) < offset {
            Console.err("hopper: \(relative) was truncated; printing it from the start\n")
            offset = 0
        }
        guard header || Int64(st.st_size) > offset else { return true }
        if headers && current != name {
            var text = printedAny ? (endsWithNewline ? "\n" : "\n\n") : ""
            text += "==> \(relative) <==\n"
            try Array(text.utf8).withUnsafeBytes { try write($0) }
        }
        current = name
        offset += try copy(fd, from: offset, path: path)
        offsets[name] = offset
        return true
    }

    /// pread(2)s from `offset` to end of file in 64 KiB chunks, writing each to stdout. Returns the bytes copied.
    mutating func copy(_ fd: Int32, from offset: Int64, path: String) throws -> Int64 {
        var buffer = [UInt8](repeating: 0, count: 65536)
        var total: Int64 = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, off_t(offset + total)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CLIError("cannot read \(path): \(SystemError("pread", path: path).message)")
            }
            if n == 0 { return total }
            try buffer.withUnsafeBytes { try write(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            total += Int64(n)
        }
    }

    /// write(2)s all of `bytes` to stdout.
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let last = bytes.last else { return }
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(1, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EPIPE { throw ExitCode(1) }  // the reader went away (`| head`)
                throw CLIError("cannot write to standard output: \(SystemError("write", path: "stdout").message)")
            }
            done += n
        }
        printedAny = true
        endsWithNewline = last == UInt8(ascii: "\n")
    }
}
