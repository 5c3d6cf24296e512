// WorkspaceScan — expands `outputs:` globs in a real workspace.
//
// The walk never follows a symlink to a directory: each directory is opened with openat(2) +
// O_DIRECTORY | O_NOFOLLOW relative to its parent's descriptor, starting from a descriptor of
// the workspace, and entries are examined with fstatat(2) + AT_SYMLINK_NOFOLLOW. A literal
// component is looked up directly; a wildcard one lists the directory. Every (directory,
// pattern position) pair is visited once, so `a/**/**/b` costs no more than `a/**/b`.
//
// What a match becomes:
//   regular file           published
//   symlink                published (the target's content, under the symlink's path) only
//                          when realpath(3) puts it on a regular file inside the workspace;
//                          otherwise skipped with a warning (outside, dangling, a directory, ...)
//   directory              not published (write `dir/**` for its files); a pattern that
//                          matched only directories gets a warning saying so
//   FIFO, socket, device   skipped with a warning, never opened
//   SHA256SUMS at the top  skipped with a warning: the name is the checksum file's
//
// SECURITY: the workspace is written by the job's user. Nothing here reads a file; the
// publisher opens each source again below the workspace descriptor with O_NOFOLLOW on every
// component and checks it is a regular file, so a swap after the scan cannot lead outside.
import HopperCore
#if canImport(Glibc)
import Glibc
#endif

extension OutputGlob {
    /// Expands `globs` in the workspace directory `workspace`.
    public static func expand(_ globs: [OutputGlob], in workspace: String) throws(ResultsError) -> OutputMatches {
        let rootFD: Int32
        let rootReal: String?
        do {
            rootFD = try FileOps.open(workspace, O_RDONLY | O_DIRECTORY)
            rootReal = try FileOps.realpath(workspace)
        } catch {
            throw .system(error, "cannot open the workspace")
        }
        defer { Glibc.close(rootFD) }
        guard let rootReal else { throw .system(SystemError("realpath", path: workspace, errno: ENOENT), "cannot open the workspace") }
        var scan = WorkspaceScan(workspace: workspace, rootFD: rootFD, rootReal: rootReal)
        return try scan.run(globs)
    }
}

struct WorkspaceScan {
    /// Directories deeper than this below the workspace are not entered (with a warning).
    static let maxDepth = 256
    /// The checksum file's name at the top of `results/`: no output may take it.
    static let reservedName = "SHA256SUMS"

    let workspace: String
    let rootFD: Int32
    /// realpath(3) of the workspace: symlinks must resolve below it.
    let rootReal: String

    private var warnings: [String] = []
    private var warned: Set<String> = []

    init(workspace: String, rootFD: Int32, rootReal: String) {
        self.workspace = workspace
        self.rootFD = rootFD
        self.rootReal = rootReal
    }

    mutating func run(_ globs: [OutputGlob]) throws(ResultsError) -> OutputMatches {
        var byPath: [String: OutputMatch] = [:]
        var classified: [String: OutputMatch?] = [:]
        var unmatched: [String] = []
        for glob in globs {
            var found = Found()
            var visited: Set<Visit> = []
            try walk(glob, fd: rootFD, rel: "", segment: 0, depth: 0, found: &found, visited: &visited)
            var published = 0
            for rel in found.paths.keys.sorted(by: Self.byteOrder) {
                let match: OutputMatch?
                if let known = classified[rel] {
                    match = known
                } else {
                    match = classify(rel, found.paths[rel]!)
                    classified.updateValue(match, forKey: rel)
                }
                if let match {
                    byPath[rel] = match
                    published += 1
                }
            }
            if published == 0 {
                unmatched.append(glob.pattern)
                if found.directories && found.paths.isEmpty {
                    let hint = glob.pattern.hasSuffix("/") ? glob.pattern + "**" : glob.pattern + "/**"
                    warn("output \(ResultsError.quote(glob.pattern)) matched only directories; "
                        + "write \(ResultsError.quote(hint)) to publish the files in them")
                }
            }
        }
        let files = byPath.keys.sorted(by: Self.byteOrder).map { byPath[$0]! }
        return OutputMatches(files: files, warnings: warnings, unmatched: unmatched)
    }

    /// Paths in byte order (what `ls` and `sort` with LC_ALL=C show), not Unicode order.
    static func byteOrder(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    // MARK: - Walking

    /// What one glob matched: non-directories with their lstat, and whether a directory matched.
    private struct Found {
        var paths: [String: stat] = [:]
        var directories = false
    }

    private struct Visit: Hashable {
        var rel: String
        var segment: Int
    }

    private mutating func walk(_ glob: OutputGlob, fd: Int32, rel: String, segment s: Int, depth: Int,
                               found: inout Found, visited: inout Set<Visit>) throws(ResultsError) {
        guard visited.insert(Visit(rel: rel, segment: s)).inserted else { return }
        let segments = glob.segments
        let last = s == segments.count - 1
        switch segments[s] {
        case .literal(let name):
            let path = Self.join(rel, name)
            guard let st = try lstat(name, at: fd, path) else { return }
            if last {
                record(path, st, &found)
            } else if Self.kind(st) == S_IFDIR {
                try descend(glob, fd: fd, name: name, path: path, segment: s + 1, depth: depth, found: &found, visited: &visited)
            } else if Self.kind(st) == S_IFLNK {
                warnNotFollowed(path, glob)
            }
        case .wildcard(let pattern):
            guard let entries = list(fd, rel) else { return }
            for entry in entries where pattern.matches(entry.displayName) {
                let path = Self.join(rel, entry.displayName)
                guard let name = entry.name else {
                    warn("skipped \(ResultsError.quote(path)): its name is not valid UTF-8")
                    continue
                }
                guard let st = try lstat(name, at: fd, path) else { continue }
                if last {
                    record(path, st, &found)
                } else if Self.kind(st) == S_IFDIR {
                    try descend(glob, fd: fd, name: name, path: path, segment: s + 1, depth: depth, found: &found, visited: &visited)
                } else if Self.kind(st) == S_IFLNK {
                    warnNotFollowed(path, glob)
                }
            }
        case .globstar:
            if !last {
                try walk(glob, fd: fd, rel: rel, segment: s + 1, depth: depth, found: &found, visited: &visited)
            }
            guard let entries = list(fd, rel) else { return }
            for entry in entries where !OutputGlob.isHidden(entry.displayName) {
                let path = Self.join(rel, entry.displayName)
                guard let name = entry.name else {
                    if last { warn("skipped \(ResultsError.quote(path)): its name is not valid UTF-8") }
                    continue
                }
                guard let st = try lstat(name, at: fd, path) else { continue }
                if Self.kind(st) == S_IFDIR {
                    try descend(glob, fd: fd, name: name, path: path, segment: s, depth: depth, found: &found, visited: &visited)
                } else if last {
                    record(path, st, &found)
                }
            }
        }
    }

    private mutating func descend(_ glob: OutputGlob, fd: Int32, name: String, path: String, segment: Int, depth: Int,
                                  found: inout Found, visited: inout Set<Visit>) throws(ResultsError) {
        guard depth + 1 <= Self.maxDepth else {
            warn("did not enter \(ResultsError.quote(path)): more than \(Self.maxDepth) directories deep")
            return
        }
        let sub: Int32
        do {
            sub = try FileOps.openDirectory(name, at: fd, path: display(path))
        } catch {
            // Unreadable, or swapped for a symlink since the fstatat: never entered.
            warn("skipped directory \(ResultsError.quote(path)): \(error.message) (openat)")
            return
        }
        defer { Glibc.close(sub) }
        try walk(glob, fd: sub, rel: path, segment: segment, depth: depth + 1, found: &found, visited: &visited)
    }

    private func record(_ path: String, _ st: stat, _ found: inout Found) {
        if Self.kind(st) == S_IFDIR {
            found.directories = true
        } else {
            found.paths[path] = st
        }
    }

    private mutating func list(_ fd: Int32, _ rel: String) -> [FileOps.DirectoryEntry]? {
        do {
            return try FileOps.listDirectory(fd: fd, path: display(rel))
        } catch {
            warn("skipped directory \(ResultsError.quote(rel.isEmpty ? "." : rel)): \(error.message) (\(error.call))")
            return nil
        }
    }

    private func lstat(_ name: String, at fd: Int32, _ path: String) throws(ResultsError) -> stat? {
        do {
            return try FileOps.lstat(name, at: fd, path: display(path))
        } catch {
            throw .system(error, "cannot examine an output")
        }
    }

    private mutating func warnNotFollowed(_ path: String, _ glob: OutputGlob) {
        warn("did not follow symlink \(ResultsError.quote(path)) while matching \(ResultsError.quote(glob.pattern)): "
            + "symlinks to directories are never followed")
    }

    // MARK: - Classifying a match

    /// The file to publish for a matched non-directory, or nil (with a warning) when it is skipped.
    private mutating func classify(_ rel: String, _ st: stat) -> OutputMatch? {
        let q = ResultsError.quote(rel)
        if rel == Self.reservedName {
            warn("skipped \(q): the name is reserved for the checksum file in results/")
            return nil
        }
        switch Self.kind(st) {
        case S_IFREG:
            return OutputMatch(path: rel, source: rel, bytes: Int64(st.st_size))
        case S_IFLNK:
            let resolved: String?
            do {
                resolved = try FileOps.realpath(display(rel))
            } catch {
                warn("skipped \(q): cannot resolve the symlink: \(error.message)")
                return nil
            }
            guard let resolved else {
                warn("skipped \(q): a dangling symlink")
                return nil
            }
            let prefix = rootReal == "/" ? "/" : rootReal + "/"
            guard resolved == rootReal || resolved.hasPrefix(prefix) else {
                warn("skipped \(q): a symlink to \(ResultsError.quote(resolved)), outside the workspace")
                return nil
            }
            let target: stat?
            do {
                target = try FileOps.statFollowing(resolved)
            } catch {
                warn("skipped \(q): cannot examine its target: \(error.message)")
                return nil
            }
            guard let target else {
                warn("skipped \(q): a dangling symlink")
                return nil
            }
            guard Self.kind(target) == S_IFREG else {
                warn("skipped \(q): a symlink to \(Self.kindName(target)); only regular files are published")
                return nil
            }
            return OutputMatch(path: rel, source: String(resolved.dropFirst(prefix.count)), bytes: Int64(target.st_size))
        default:
            warn("skipped \(q): \(Self.kindName(st)); only regular files are published")
            return nil
        }
    }

    // MARK: - Helpers

    private mutating func warn(_ message: String) {
        if warned.insert(message).inserted { warnings.append(message) }
    }

    /// The workspace-rooted path, for system calls by path and for errors.
    private func display(_ rel: String) -> String { rel.isEmpty ? workspace : workspace + "/" + rel }

    static func join(_ rel: String, _ name: String) -> String { rel.isEmpty ? name : rel + "/" + name }

    static func kind(_ st: stat) -> mode_t { st.st_mode & S_IFMT }

    static func kindName(_ st: stat) -> String {
        switch kind(st) {
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO"
        case S_IFSOCK: return "a socket"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFLNK: return "a symlink"
        case S_IFREG: return "a regular file"
        default: return "a file of unknown type"
        }
    }
}
