// SystemdNotifier — the sd_notify(3) protocol without libsystemd: datagrams such as `READY=1`,
// `STATUS=…`, `WATCHDOG=1`, `STOPPING=1` sent to the AF_UNIX socket named by $NOTIFY_SOCKET
// (a path, or an abstract name starting with '@'). Without $NOTIFY_SOCKET it does nothing.
//
// CONFIGURATION: $WATCHDOG_USEC (set by systemd from WatchdogSec=) makes the heartbeat ping at
// least twice per watchdog period.
import HopperCore
#if canImport(Glibc)
import Glibc
#endif

public final class SystemdNotifier: Sendable {
    private let address: [UInt8]?
    /// Seconds between watchdog pings that systemd expects (half of WatchdogSec), if any.
    public let watchdogInterval: Double?

    public init(environment: (String) -> String? = SystemdNotifier.env) {
        if let socket = environment("NOTIFY_SOCKET"), !socket.isEmpty, socket.hasPrefix("/") || socket.hasPrefix("@") {
            address = Array(socket.utf8)
        } else {
            address = nil
        }
        if let usec = environment("WATCHDOG_USEC").flatMap(Double.init), usec > 0 {
            watchdogInterval = usec / 2_000_000
        } else {
            watchdogInterval = nil
        }
    }

    public static func env(_ name: String) -> String? { ProcessEnvironment.value(name) }

    public var enabled: Bool { address != nil }

    public func ready(status: String) { send("READY=1\nSTATUS=\(status)\nMAINPID=\(getpid())") }
    public func status(_ text: String) { send("STATUS=\(text)") }
    public func watchdog(status: String) { send("WATCHDOG=1\nSTATUS=\(status)") }
    public func stopping() { send("STOPPING=1\nSTATUS=stopping: intake closed, running steps continue under their supervisors") }

    /// One datagram; failures are ignored (systemd may be gone; the daemon goes on).
    public func send(_ message: String) {
        guard let address else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard address.count < capacity else { return }
        withUnsafeMutableBytes(of: &addr.sun_path) { buf in
            for (i, b) in address.enumerated() { buf[i] = (i == 0 && b == UInt8(ascii: "@")) ? 0 : b }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + address.count + (address.first == UInt8(ascii: "@") ? 0 : 1))
        let bytes = Array(message.utf8)
        _ = withUnsafePointer(to: &addr) { ptr in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sa, length) }
            }
        }
    }
}
