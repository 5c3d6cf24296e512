import Glibc
import HopperCore
import Testing

@Suite struct FileSystemKindTests {
    @Test func tmpIsLocal() throws {
        let kind = try FileSystemKind.of(path: "/tmp", fakeTypes: "")
        #expect(!kind.isNetwork)
        #expect(!kind.needsPolling)
        #expect(!kind.name.isEmpty)
    }

    @Test func procIsProc() throws {
        #expect(try FileSystemKind.of(path: "/proc", fakeTypes: "") == .local("proc"))
        #expect(try FileSystemKind.of(path: "/proc/self/fd", fakeTypes: "") == .local("proc"))
    }

    @Test func missingPathIsJudgedByItsAncestor() throws {
        let kind = try FileSystemKind.of(path: "/tmp/hopper-no-such-dir/a/b", fakeTypes: "")
        #expect(kind == (try FileSystemKind.of(path: "/tmp", fakeTypes: "")))
    }

    @Test func magicNumbers() {
        #expect(FileSystemKind.kind(magic: 0x6969) == .network("nfs"))
        #expect(FileSystemKind.kind(magic: 0xFF53_4D42) == .network("cifs"))
        #expect(FileSystemKind.kind(magic: 0xFE53_4D42) == .network("smb2"))
        #expect(FileSystemKind.kind(magic: 0x0BD0_0BD0) == .network("lustre"))
        #expect(FileSystemKind.kind(magic: 0x6573_5546) == .fuse)
        #expect(FileSystemKind.kind(magic: 0xEF53) == .local("ext4"))
        #expect(FileSystemKind.kind(magic: 0x0102_1994) == .local("tmpfs"))
        #expect(FileSystemKind.kind(magic: 0x794C_7630) == .local("overlayfs"))
        #expect(FileSystemKind.kind(magic: 0x1234_5678) == .local("0x12345678"))
        #expect(FileSystemKind.fuse.isNetwork && FileSystemKind.fuse.needsPolling)
        #expect(FileSystemKind.network("nfs").needsPolling)
        #expect(!FileSystemKind.local("ext4").isNetwork)
    }

    @Test func fakeTypes() throws {
        let spec = "/srv/spool=nfs:/srv/spool/state=ext4:/mnt/s3=fuse"
        #expect(try FileSystemKind.of(path: "/srv/spool", fakeTypes: spec) == .network("nfs"))
        #expect(try FileSystemKind.of(path: "/srv/spool/inbox/q1", fakeTypes: spec) == .network("nfs"))
        #expect(try FileSystemKind.of(path: "/srv/spool/state/db", fakeTypes: spec) == .local("ext4"))
        #expect(try FileSystemKind.of(path: "/mnt/s3/x", fakeTypes: spec) == .fuse)
        #expect(try FileSystemKind.of(path: "/srv/spool2", fakeTypes: spec) != .network("nfs"))
        #expect(try FileSystemKind.of(path: "/srv/spool/../other", fakeTypes: spec) != .network("nfs"))
        #expect(try FileSystemKind.of(path: "/x", fakeTypes: "/x=weirdfs") == .network("weirdfs"))
    }

    /// HOPPER_FAKE_FSTYPE itself, set in a child process (setenv is not safe beside threads).
    @Test func fakeTypesFromTheEnvironment() async {
        await #expect(processExitsWith: .success) {
            setenv("HOPPER_FAKE_FSTYPE", "/tmp/hopper-fake=nfs", 1)
            let kind = try FileSystemKind.of(path: "/tmp/hopper-fake/inbox")
            let other = try FileSystemKind.of(path: "/tmp")
            exit(kind == .network("nfs") && kind.needsPolling && !other.isNetwork ? 0 : 1)
        }
    }
}
