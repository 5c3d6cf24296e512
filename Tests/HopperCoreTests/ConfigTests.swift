import Foundation
import Testing
@testable import HopperCore

@Suite struct ConfigTests {
    func config(_ yaml: String, base: String? = "/etc/hopper") throws(ManifestError) -> HopperConfig {
        try HopperConfig.parse(bytes: Array(yaml.utf8), fileName: "config.yaml", baseDirectory: base)
    }

    func problems(_ yaml: String) -> [String] {
        do {
            _ = try config(yaml)
            return ["(ok)"]
        } catch {
            return error.diagnostics.map { $0.formatted(file: error.file) }
        }
    }

    @Test func defaults() throws {
        let c = HopperConfig.default
        #expect(c.spool == nil && c.state == nil && c.workflows == nil && c.workspaces == nil)
        #expect(c.runAs == .service && c.adminGroup == nil)
        #expect(c.maxRunning >= 1)
        #expect(c.perOwnerRunning == 0)
        #expect(c.pollInterval.seconds == 2 && c.settle.seconds == 1 && c.rescanInterval.seconds == 60)
        #expect(c.watch == .auto)
        #expect(c.maxManifestSize.bytes == 1 << 20)
        #expect(c.executor == .local)
        #expect(c.mailCommand == "/usr/sbin/sendmail -t")
        #expect(c.minFreeSpace.bytes == 1 << 30)
        #expect(c.logLevel == .info)
        #expect(c.queues.isEmpty)
        #expect(c.stateDirectory(spool: "/srv/hopper") == "/srv/hopper/state")
        #expect(c.workspacesDirectory(spool: "/srv/hopper/") == "/srv/hopper/runs")
        #expect(c.workflowsDirectory(spool: "/repo/spool") == "/repo/Workflows")
        #expect(try config("") == HopperConfig.default)
        #expect(try config("# all defaults\n") == HopperConfig.default)
        #expect(try config("---\n") == HopperConfig.default)
    }

    @Test func everyKey() throws {
        let c = try config("""
        spool: /srv/hopper
        state: /var/lib/hopper
        workflows: workflows
        workspaces: ./scratch
        run_as: owner
        admin_group: hopper-admin
        max_running: 2
        per_owner_running: 1
        poll_interval: 5s
        settle: 0s
        rescan_interval: 5m
        watch: poll
        max_manifest_size: 256K
        executor: slurm
        mail_command: /usr/bin/msmtp -t
        min_free_space: 10G
        log_level: debug
        queues:
          sequencer1: {workflow: demux, executor: slurm, max_running: 1}
          fast:
          big: {priority: -10, partition: long, account: lab, qos: high}
        """)
        #expect(c.spool == "/srv/hopper")
        #expect(c.state == "/var/lib/hopper")
        #expect(c.workflows == "/etc/hopper/workflows")
        #expect(c.workspaces == "/etc/hopper/scratch")
        #expect(c.runAs == .owner && c.adminGroup == "hopper-admin")
        #expect(c.maxRunning == 2 && c.perOwnerRunning == 1)
        #expect(c.pollInterval.seconds == 5 && c.settle.seconds == 0 && c.rescanInterval.seconds == 300)
        #expect(c.watch == .poll && c.executor == .slurm)
        #expect(c.maxManifestSize == .kib(256) && c.minFreeSpace == .gib(10))
        #expect(c.mailCommand == "/usr/bin/msmtp -t" && c.logLevel == .debug)
        #expect(c.queues == [
            QueueConfig(name: "sequencer1", workflow: "demux", executor: .slurm, maxRunning: 1),
            QueueConfig(name: "fast"),
            QueueConfig(name: "big", priority: -10, partition: "long", account: "lab", qos: "high"),
        ])
        #expect(c.queue(named: "fast") == QueueConfig(name: "fast"))
        #expect(c.stateDirectory(spool: "/x") == "/var/lib/hopper")
    }

    @Test func errorsHavePositions() {
        #expect(problems("""
        spool: /srv/hopper
        max_runing: 2
        run_as: root
        poll_interval: 0s
        watch: fanotify
        queues:
          ../bad: {}
          ok: {workflow: demux, max_running: 0, colour: blue}
        log_level: verbose
        """) == [
            "config.yaml:2:1: max_runing: unknown key \"max_runing\"; did you mean \"max_running\"?",
            "config.yaml:3:9: run_as: expected one of service, owner; got \"root\"",
            "config.yaml:4:16: poll_interval: must be longer than zero; got \"0s\"",
            "config.yaml:5:8: watch: expected one of auto, inotify, poll; got \"fanotify\"",
            "config.yaml:7:3: queues: queue name \"../bad\" is not valid: it must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}",
            "config.yaml:8:38: queues.ok.max_running: must be between 1 and 100000; got 0",
            "config.yaml:8:41: queues.ok.colour: unknown key \"colour\"",
            "config.yaml:9:12: log_level: expected one of debug, info, notice, warning, error; got \"verbose\"",
        ])
        #expect(problems("- a\n") == ["config.yaml:1:1: expected a mapping; got a sequence"])
        #expect(problems("spool: [\n") == ["config.yaml:2:1: did not find expected node content while parsing a flow node"])
    }

    @Test func loadResolvesAgainstTheFilesDirectory() throws {
        let dir = try TempDirectory(["config.yaml": "spool: spool\nworkflows: /abs/wf\n", "bad.yaml": "spol: x\n"])
        defer { dir.remove() }
        let c = try HopperConfig.load(path: dir.path + "/config.yaml")
        #expect(c.spool == dir.path + "/spool")
        #expect(c.workflows == "/abs/wf")
        do {
            _ = try HopperConfig.load(path: dir.path + "/bad.yaml")
            Issue.record("loaded a bad config")
        } catch {
            #expect(error.formatted == dir.path + "/bad.yaml:1:1: spol: unknown key \"spol\"; did you mean \"spool\"?")
            #expect(error.reason == "invalid config")
        }
        do {
            _ = try HopperConfig.load(path: dir.path + "/missing.yaml")
            Issue.record("loaded a missing config")
        } catch {
            #expect(error.reason == "cannot read config")
            #expect(error.diagnostics.first?.message.contains("No such file or directory") == true)
        }
    }
}

@Suite struct ShippedConfigTests {
    @Test func theExampleConfigInSystemdIsValid() throws {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        let config = try HopperConfig.load(path: url.path + "/systemd/config.example.yaml")
        #expect(config.spool == "/srv/hopper" && config.state == "/var/lib/hopper")
        #expect(config.maxRunning == 8 && config.perOwnerRunning == 4 && config.killGrace.seconds == 30)
        #expect(config.queues.map(\.name) == ["sequencer1", "bulk"])
        #expect(config.snakemake == "/opt/snakemake/bin/snakemake")
    }
}

@Suite struct ConfigKeyTableTests {
    /// docs/daemon.md, the page that documents the config file.
    static let daemonPage: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return (try? String(contentsOf: url.appendingPathComponent("docs/daemon.md"), encoding: .utf8)) ?? ""
    }()

    @Test func theDocsShowTheKeyTable() throws {
        let table = HopperConfig.documentationTable()
        #expect(Self.daemonPage.contains(table + "\n"), "the configuration table of docs/daemon.md differs from HopperConfig.keyTable; it should read:\n\(table)")
    }

    @Test func everyTopLevelKeyIsParsedAndNoOtherIs() throws {
        // A wrong value for each key is reported as that key's error, never as an unknown key.
        for key in HopperConfig.keyTable where key.isTopLevel {
            let text = "\(key.name): [1, 2]\n"
            do {
                _ = try HopperConfig.parse(bytes: Array(text.utf8), fileName: "c.yaml", baseDirectory: "/")
            } catch {
                #expect(!"\(error)".contains("unknown key"), "\(key.name): \(error)")
            }
        }
        #expect(throws: (any Error).self) { try HopperConfig.parse(bytes: Array("no_such_key: 1\n".utf8), fileName: "c.yaml", baseDirectory: "/") }
        #expect(Set(HopperConfig.keyTable.map(\.name)).count == HopperConfig.keyTable.count, "a key is listed twice")
    }
}
