// FileSystemKind — is a path on local disk, or on a network or FUSE filesystem where inotify
// is blind to writes made by other machines?
//
// Decided by `statfs(2)`'s `f_type` magic number (Linux). Used by the watcher to choose between
// inotify and polling per inbox folder, and by the daemon to refuse a state directory on a
// network or FUSE filesystem (SQLite locking is not to be trusted there).
//
// CONFIGURATION
//
//   HOPPER_FAKE_FSTYPE   (environment; for tests only)
//       `<path-prefix>=<type>[:<path-prefix>=<type>...]`, e.g. `/tmp/t1/inbox=nfs`. A path
//       equal to a prefix or below it (whole components: `/a/b` covers `/a/b/c`, not `/a/bc`)
//       is reported as `<type>` without calling statfs. `<type>` is a name from the table
//       below (`nfs`, `cifs`, `fuse`, `ext4`, `tmpfs`, ...); a name not in the table counts as
//       a network filesystem. The longest matching prefix wins. Lets tests exercise the
//       "network filesystem" paths (polling, refusing the state directory) without NFS.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

public enum FileSystemKind: Sendable, Hashable, CustomStringConvertible {
    /// A local filesystem (ext4, xfs, tmpfs, overlayfs, ... or one not in the table) where
    /// inotify sees every change.
    case local(String)
    /// A network or cluster filesystem (nfs, cifs, ceph, lustre, ...): writes made by other
    /// machines raise no inotify events here.
    case network(String)
    /// FUSE (sshfs, gcsfuse, glusterfs, ...): events depend on the daemon behind it.
    case fuse

    /// The environment variable read by `of(path:)`; see the header.
    public static let fakeEnvironmentVariable = "HOPPER_FAKE_FSTYPE"

    /// A human name: "nfs", "ext4", "tmpfs", "overlayfs", "fuse", "0x1234abcd" for unknown types.
    public var name: String {
        switch self {
        case .local(let n), .network(let n): return n
        case .fuse: return "fuse"
        }
    }

    public var description: String { name }

    /// Network or FUSE: the daemon refuses to keep its database here.
    public var isNetwork: Bool {
        switch self {
        case .local: return false
        case .network, .fuse: return true
        }
    }

    /// inotify cannot be trusted here: watch by polling.
    public var needsPolling: Bool { isNetwork }

    /// A failed `statfs(2)`.
    public struct LookupError: Error, Sendable, Equatable, CustomStringConvertible {
        public var path: String
        public var syscall: String
        public var errno: Int32
        public var description: String {
            "cannot tell the filesystem of \(path): \(syscall) failed: \(String(cString: strerror(errno))) (errno \(errno))"
        }
    }

    /// The filesystem `path` is on. A path that does not exist yet is judged by its nearest
    /// existing ancestor (where it would be created). `fakeTypes` replaces the value of
    /// `HOPPER_FAKE_FSTYPE` (nil: read the environment).
    public static func of(path: String, fakeTypes: String? = nil) throws -> FileSystemKind {
        let absolute = absolutePath(path)
        let spec = fakeTypes ?? ProcessEnvironment.value(fakeEnvironmentVariable)
        if let spec, let faked = fake(absolute, spec: spec) { return faked }

        var candidate = path.isEmpty ? "." : path
        while true {
            let (magic, err) = StatFS.type(of: candidate)
            if let magic { return kind(magic: magic) }
            if (err == ENOENT || err == ENOTDIR) && candidate != "/" {
                candidate = parent(of: candidate == path ? absolute : candidate)
                continue
            }
            throw LookupError(path: path, syscall: "statfs", errno: err)
        }
    }

    /// The kind for a `statfs` `f_type` magic number.
    public static func kind(magic: UInt32) -> FileSystemKind {
        if magic == fuseMagic { return .fuse }
        if let n = networkMagics[magic] { return .network(n) }
        if let n = localMagics[magic] { return .local(n) }
        return .local("0x" + String(magic, radix: 16))
    }

    /// The kind for a name from the table ("nfs", "ext4", "fuse"); unknown names are network.
    public static func kind(named name: String) -> FileSystemKind {
        if name == "fuse" || name == "fuseblk" { return .fuse }
        if localMagics.values.contains(name) { return .local(name) }
        return .network(name)
    }

    static let fuseMagic: UInt32 = 0x6573_5546

    static let networkMagics: [UInt32: String] = [
        0x0000_6969: "nfs",
        0x0000_517B: "smb",
        0xFF53_4D42: "cifs",
        0xFE53_4D42: "smb2",
        0x00C3_6400: "ceph",
        0x5346_414F: "afs",
        0x6B41_4653: "afs",
        0x0102_1997: "9p",
        0x0BD0_0BD0: "lustre",
        0x4750_4653: "gpfs",
        0x1983_0326: "beegfs",
        0x7461_636F: "ocfs2",
        0x0116_1970: "gfs2",
        0x7375_7245: "coda",
        0x0000_564C: "ncp",
        0x2003_0528: "orangefs",
    ]

    static let localMagics: [UInt32: String] = [
        0x0000_EF53: "ext4",
        0x0102_1994: "tmpfs",
        0x5846_5342: "xfs",
        0x9123_683E: "btrfs",
        0x794C_7630: "overlayfs",
        0x2FC1_2FC1: "zfs",
        0xF2F5_2010: "f2fs",
        0xCA45_1A4E: "bcachefs",
        0x3153_464A: "jfs",
        0x5265_4973: "reiserfs",
        0x0000_3434: "nilfs",
        0xE0F5_E1E2: "erofs",
        0x7371_7368: "squashfs",
        0x8584_58F6: "ramfs",
        0x9584_58F6: "hugetlbfs",
        0x0000_4D44: "vfat",
        0x2011_BAB0: "exfat",
        0x5346_544E: "ntfs",
        0x0000_9660: "iso9660",
        0x1501_3346: "udf",
        0x0000_F15F: "ecryptfs",
        0x0000_9FA0: "proc",
        0x6265_6572: "sysfs",
        0x0000_1CD1: "devpts",
        0x6367_7270: "cgroup2",
        0x0027_E0EB: "cgroup",
        0x6462_6720: "debugfs",
        0x7472_6163: "tracefs",
        0x7363_6673: "securityfs",
        0x6E73_6673: "nsfs",
        0xCAFE_4A11: "bpf",
        0x6265_6570: "configfs",
        0x0000_0187: "autofs",
    ]

    // MARK: - HOPPER_FAKE_FSTYPE

    static func fake(_ absolute: String, spec: String) -> FileSystemKind? {
        var best: (length: Int, kind: FileSystemKind)?
        for entry in spec.split(separator: ":") {
            guard let eq = entry.lastIndex(of: "=") else { continue }
            let prefix = normalized(String(entry[..<eq]))
            let type = String(entry[entry.index(after: eq)...])
            guard !prefix.isEmpty, !type.isEmpty, covers(prefix: prefix, path: absolute) else { continue }
            if best == nil || prefix.utf8.count > best!.length {
                best = (prefix.utf8.count, kind(named: type))
            }
        }
        return best?.kind
    }

    static func covers(prefix: String, path: String) -> Bool {
        if prefix == "/" { return path.hasPrefix("/") }
        return path == prefix || path.hasPrefix(prefix + "/")
    }

    // MARK: - statfs(2)

    /// statfs(2) is declared in <sys/vfs.h>, which Swift's Glibc module does not include, and
    /// HopperCore has no C shim of its own; so the function is looked up with dlsym(3) and
    /// given a generous zeroed buffer. Only `f_type` is read: it is the first member of
    /// `struct statfs` on every Linux ABI (`long` — a machine word — except on s390x, where
    /// it is `unsigned int`). Replace with a shim call once the package has one.
    enum StatFS {
        private typealias Function = @convention(c) (UnsafePointer<CChar>, UnsafeMutableRawPointer) -> Int32

        private static let function: Function? = {
            guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "statfs") else { return nil }
            return unsafeBitCast(symbol, to: Function.self)
        }()

        /// (f_type, 0) or (nil, errno).
        static func type(of path: String) -> (UInt32?, Int32) {
            guard let function else { return (nil, ENOSYS) }
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: 512, alignment: 16)
            defer { buffer.deallocate() }
            buffer.initializeMemory(as: UInt8.self, repeating: 0, count: 512)
            guard function(path, buffer) == 0 else { return (nil, errno) }
            #if arch(s390x)
            return (buffer.load(as: UInt32.self), 0)
            #else
            return (UInt32(truncatingIfNeeded: buffer.load(as: Int.self)), 0)
            #endif
        }
    }

    // MARK: - Paths (no Foundation in the core)

    /// `path` made absolute against the working directory, without `//`, `/.` and trailing `/`.
    /// Symbolic links are not resolved.
    static func absolutePath(_ path: String) -> String {
        if path.hasPrefix("/") { return normalized(path) }
        var cwd = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&cwd, cwd.count) != nil else { return normalized("/" + path) }
        let base = String(decoding: cwd.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return normalized(base + "/" + path)
    }

    static func normalized(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }
}
