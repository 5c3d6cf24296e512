// BuildInfo — what `hopper --version` prints: the version, and the commit and date the binary was
// built from. The commit comes from the CHopperBuild stamp that scripts/package sets (see
// Sources/CHopperBuild/build_info.c); an unstamped build (a plain `swift build`) says so rather
// than guess from a work tree that may have changed since.
import CHopperBuild
import HopperCore

enum BuildInfo {
    /// The commit, or nil for an unstamped build.
    static var commit: String? { nonEmpty(hopper_build_commit()) }
    /// The commit's date, or nil for an unstamped build.
    static var date: String? { nonEmpty(hopper_build_date()) }

    /// `0.1.0 (commit 1a2b3c4d5e6f, 2026-12-04T00:12:00Z)`, or
    /// `0.1.0 (unknown commit: a development build, not stamped by scripts/package)`.
    static var versionLine: String {
        guard let commit else {
            return "\(HopperVersion.current) (unknown commit: a development build, not stamped by scripts/package)"
        }
        return "\(HopperVersion.current) (commit \(commit), \(date ?? "unknown date"))"
    }

    private static func nonEmpty(_ text: UnsafePointer<CChar>) -> String? {
        let value = String(cString: text)
        return value.isEmpty ? nil : value
    }
}
