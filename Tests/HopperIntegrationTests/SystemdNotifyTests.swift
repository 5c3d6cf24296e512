// sd_notify: the daemon tells systemd READY=1, STATUS=…, WATCHDOG=1 and STOPPING=1 over a real
// datagram socket ($NOTIFY_SOCKET), with pings at least twice per WatchdogSec ($WATCHDOG_USEC).
import Foundation
import HopperCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A bound AF_UNIX datagram socket collecting what is sent to it.
final class NotifySocket {
    let path: String
    let fd: Int32

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &addr.sun_path) { buf in for (i, b) in bytes.enumerated() { buf[i] = b } }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else { throw TestFailure("bind \(path): \(errno)") }
        var tv = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd); unlink(path) }

    /// Messages received until `timeout`, or until one satisfies `until`.
    func receive(timeout: Double, until: (String) -> Bool = { _ in false }) -> [String] {
        var out: [String] = []
        let deadline = Date().addingTimeInterval(timeout)
        var buf = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline {
            let n = recv(fd, &buf, buf.count, 0)
            if n > 0 {
                let message = String(decoding: buf[0..<n], as: UTF8.self)
                out.append(message)
                if until(message) { break }
            }
        }
        return out
    }
}

extension Integration {
    @Suite struct SystemdNotify {
        @Test func readyStatusWatchdogAndStoppingReachTheNotifySocket() throws {
            let spool = try TestSpool()
            let sock = try NotifySocket(path: spool.base + "/notify.sock")
            spool.extraEnv["NOTIFY_SOCKET"] = sock.path
            spool.extraEnv["WATCHDOG_USEC"] = "1000000"   // WatchdogSec=1s: pings every 0.5 s
            let daemon = try spool.startDaemon()
            let first = sock.receive(timeout: 10) { $0.contains("WATCHDOG=1") }
            let ready = try #require(first.first { $0.contains("READY=1") }, "\(first)")
            #expect(ready.contains("STATUS=watching \(spool.layout.inbox)"))
            #expect(ready.contains("MAINPID=\(daemon.processIdentifier)"))
            let pings = sock.receive(timeout: 1.6).filter { $0.contains("WATCHDOG=1") }
            #expect(pings.count >= 2, "\(pings)")
            #expect(pings.last?.contains("STATUS=0 running, 0 pending; 0 accepted, 0 rejected since start") == true, "\(pings)")
            kill(daemon.processIdentifier, SIGTERM)
            let last = sock.receive(timeout: 10) { $0.contains("STOPPING=1") }
            #expect(last.contains { $0.contains("STOPPING=1") }, "\(last)")
            #expect(spool.stopDaemon() == 0)
        }
    }
}
