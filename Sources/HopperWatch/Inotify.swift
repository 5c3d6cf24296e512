// InotifySession — the process's one libinotifytools (3.22.6) instance.
//
// libinotifytools keeps its state in globals (the inotify descriptor, the event buffer, trees
// of watches), so it is used from ONE thread only: the watch thread (WatchHub). Nothing else
// in the process may call it. What we use and why:
//
//   inotifytools_initialize()      creates the inotify descriptor. It is opened WITHOUT
//                                  close-on-exec; we find it in /proc/self/fd (the new link
//                                  to `anon_inode:inotify`) and set FD_CLOEXEC, or the jobs the
//                                  daemon spawns would inherit it.
//   inotifytools_next_events(0, 1) one buffered event, without blocking (timeout 0 makes its
//                                  select(2) return at once; `inotifytools_next_event(0)` would
//                                  block forever). The thread blocks in its own poll(2) on the
//                                  descriptor and a wakeup socket, so stop/rescan are instant.
//   inotifytools_cleanup()         closes the descriptor, once the buffer is drained (the
//                                  buffer position is a static that cleanup does not reset).
//
// Watches are added and removed with inotify_add_watch(2)/inotify_rm_watch(2) on the
// library's descriptor rather than inotifytools_watch_file(): 3.22.6 never processes
// IN_IGNORED, so a watch whose directory was deleted stays in its trees, its
// inotifytools_remove_watch_by_wd() then fails (printing to stderr) and
// inotifytools_wd_from_filename() returns the dead wd when the same path is watched again.
// We keep our own wd → folder map instead.
//
// The library's select(2) cannot handle a descriptor >= FD_SETSIZE (1024); such a session is
// refused (the watcher polls instead).

import CInotifyTools
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One event, copied out of the library's static buffer.
struct InotifyEvent {
    var wd: Int32
    var mask: UInt32
    /// The entry's name bytes (NUL padding removed); empty for events about the watched
    /// directory itself.
    var name: [UInt8]

    func has(_ bits: UInt32) -> Bool { mask & bits != 0 }
}

enum InotifyMask {
    static let create = UInt32(IN_CREATE)
    static let closeWrite = UInt32(IN_CLOSE_WRITE)
    static let movedTo = UInt32(IN_MOVED_TO)
    static let movedFrom = UInt32(IN_MOVED_FROM)
    static let delete = UInt32(IN_DELETE)
    static let deleteSelf = UInt32(IN_DELETE_SELF)
    static let moveSelf = UInt32(IN_MOVE_SELF)
    static let unmount = UInt32(IN_UNMOUNT)
    static let overflow = UInt32(IN_Q_OVERFLOW)
    static let ignored = UInt32(IN_IGNORED)
    static let isDir = UInt32(IN_ISDIR)
    static let onlyDir = UInt32(IN_ONLYDIR)
    static let dontFollow = UInt32(IN_DONT_FOLLOW)

    /// What an inbox folder is watched for.
    static let folder = create | closeWrite | movedTo | movedFrom | delete | deleteSelf | moveSelf | onlyDir
}

final class InotifySession {
    enum OpenError: Error, CustomStringConvertible {
        case initialize(Errno)
        case descriptorNotFound
        case descriptorAmbiguous([Int32])
        case descriptorTooHigh(Int32)

        var description: String {
            switch self {
            case .initialize(let e): return "inotifytools_initialize failed: \(e)"
            case .descriptorNotFound: return "cannot find the inotify descriptor in /proc/self/fd"
            case .descriptorAmbiguous(let fds): return "several new inotify descriptors in /proc/self/fd: \(fds)"
            case .descriptorTooHigh(let fd): return "inotify descriptor \(fd) is above FD_SETSIZE (libinotifytools uses select)"
            }
        }
    }

    /// The library's inotify descriptor (close-on-exec set).
    let fd: Int32
    private var closed = false

    private init(fd: Int32) { self.fd = fd }

    static func open() -> Result<InotifySession, OpenError> {
        var lastError = OpenError.descriptorNotFound
        // Another thread opening an inotify descriptor at the same instant makes the
        // /proc/self/fd difference ambiguous; try again a few times.
        for _ in 0..<3 {
            let before = inotifyDescriptors()
            guard inotifytools_initialize() != 0 else {
                return .failure(.initialize(Errno(inotifytools_error())))
            }
            let new = inotifyDescriptors().subtracting(before).sorted()
            for fd in new { setCloseOnExec(fd) }
            if new.count == 1, let fd = new.first {
                if fd >= 1024 {  // FD_SETSIZE
                    inotifytools_cleanup()
                    return .failure(.descriptorTooHigh(fd))
                }
                return .success(InotifySession(fd: fd))
            }
            lastError = new.isEmpty ? .descriptorNotFound : .descriptorAmbiguous(new)
            inotifytools_cleanup()
        }
        return .failure(lastError)
    }

    /// inotify_add_watch(2) on the library's descriptor: the watch descriptor or the errno.
    func addWatch(_ path: String, mask: UInt32) -> Result<Int32, Errno> {
        let wd = inotify_add_watch(fd, path, mask)
        return wd >= 0 ? .success(wd) : .failure(Errno(errno))
    }

    /// inotify_rm_watch(2). EINVAL (the kernel already dropped it) is not an error.
    func removeWatch(_ wd: Int32) {
        _ = inotify_rm_watch(fd, wd)
    }

    /// inotifytools_next_events(0, 1): the next event, or nil when none is ready now.
    /// `error` is set to the library's errno when it failed (EINTR is retried by the caller).
    func next() -> (event: InotifyEvent?, error: Errno?) {
        guard let p = inotifytools_next_events(0, 1) else {
            let e = inotifytools_error()
            return (nil, e == 0 ? nil : Errno(e))
        }
        let header = p.pointee
        var name: [UInt8] = []
        if header.len > 0 {
            // Swift cannot see the flexible array member `name`: it follows the header.
            let start = UnsafeRawPointer(p).advanced(by: MemoryLayout<inotify_event>.size)
            let bytes = UnsafeRawBufferPointer(start: start, count: Int(header.len))
            name = Array(bytes.prefix { $0 != 0 })
        }
        return (InotifyEvent(wd: header.wd, mask: header.mask, name: name), nil)
    }

    /// Drain the library's buffer (so its static read position is back at 0), then
    /// inotifytools_cleanup(), which closes the descriptor.
    func close() {
        guard !closed else { return }
        closed = true
        var n = 0
        while n < 1_000_000, inotifytools_next_events(0, 1) != nil { n += 1 }
        inotifytools_cleanup()
    }

    /// Descriptors in /proc/self/fd whose link reads `anon_inode:inotify`.
    static func inotifyDescriptors() -> Set<Int32> {
        var found = Set<Int32>()
        _ = Sys.readDirectory("/proc/self/fd", followSymlinks: true) { _, name, _ in
            guard let text = String(validating: name, as: UTF8.self), let fd = Int32(text) else { return }
            var target = [CChar](repeating: 0, count: 64)
            let n = readlink("/proc/self/fd/\(fd)", &target, target.count - 1)
            guard n > 0 else { return }
            let link = String(decoding: target[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if link == "anon_inode:inotify" { found.insert(fd) }
        }
        return found
    }

    /// fcntl(F_SETFD, FD_CLOEXEC), keeping the other descriptor flags.
    static func setCloseOnExec(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFD)
        if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
    }
}
