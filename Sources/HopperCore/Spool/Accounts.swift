// Accounts — user and group names from the passwd/group databases (getpwuid_r).
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

public enum Accounts {
    /// Names looked up in the last minute: an NSS lookup reads nsswitch.conf and the passwd
    /// database (or asks LDAP/sssd) — milliseconds the intake spends on every file otherwise.
    private static let names = Mutex<[uid_t: (name: String, at: Double)]>([:])
    static let nameTTL = 60.0

    /// The login name of `uid`, or the number as text when the uid has no passwd entry.
    public static func userName(_ uid: uid_t) -> String {
        let now = Timestamp.now()
        if let hit = names.withLock({ $0[uid] }), now - hit.at < nameTTL { return hit.name }
        let name = lookUpName(uid)
        names.withLock { cache in
            if cache.count > 10_000 { cache.removeAll() }
            cache[uid] = (name, now)
        }
        return name
    }

    static func lookUpName(_ uid: uid_t) -> String {
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buf = [CChar](repeating: 0, count: 4096)
        if getpwuid_r(uid, &pwd, &buf, buf.count, &result) == 0, let r = result, let name = r.pointee.pw_name {
            return String(cString: name)
        }
        return String(uid)
    }

    public static var currentUser: String { userName(geteuid()) }
}

extension Accounts {
    /// Whether the user `uid` (primary group `gid`) belongs to the group named `group`.
    public static func isMember(uid: uid_t, gid: gid_t, ofGroup group: String) -> Bool {
        var grp = Glibc.group()
        var result: UnsafeMutablePointer<Glibc.group>?
        var buf = [CChar](repeating: 0, count: 16384)
        guard getgrnam_r(group, &grp, &buf, buf.count, &result) == 0, let g = result else { return false }
        if g.pointee.gr_gid == gid { return true }
        let name = userName(uid)
        var member = g.pointee.gr_mem
        while let m = member?.pointee {
            let s = String(decoding: UnsafeRawBufferPointer(start: m, count: strlen(m)), as: UTF8.self)
            if s == name { return true }
            member = member! + 1
        }
        return false
    }
}
