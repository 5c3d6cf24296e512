// Accounts — user and group names from the passwd/group databases (getpwuid_r).
#if canImport(Glibc)
import Glibc
#endif

public enum Accounts {
    /// The login name of `uid`, or the number as text when the uid has no passwd entry.
    public static func userName(_ uid: uid_t) -> String {
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
