// swift-tools-version: 6.2
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
]

/// C defines for CHopperBuild from the environment (only that target is rebuilt when they change).
let buildStamp: [CSetting] = ["HOPPER_BUILD_COMMIT", "HOPPER_BUILD_DATE"].compactMap { name in
    guard let value = Context.environment[name], !value.isEmpty,
          value.allSatisfy({ $0.isLetter || $0.isNumber || "-:+.TZ".contains($0) }) else { return nil }
    return .define(name, to: "\"" + value + "\"")
}

let package = Package(
    name: "hopper",
    // Linux only: inotify, statfs magic numbers, renameat2, syncfs, /proc, posix_spawn with
    // setsid. SwiftPM cannot name Linux as a platform; no Apple platform is claimed.
    products: [
        .executable(name: "hopper", targets: ["hopper"]),
        .executable(name: "hopper-bench", targets: ["hopper-bench"]),
        .executable(name: "hopper-fuzz", targets: ["hopper-fuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        // Debian's libyaml-dev and libinotifytools0-dev, through system library targets.
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CInotifyTools", providers: [.apt(["libinotifytools0-dev"])]),
        // Shims for Linux calls Swift's Glibc module hides (renameat2, syncfs).
        .target(name: "CHopperSys"),
        // The build stamp (commit and date) that `hopper --version` prints: scripts/package sets
        // HOPPER_BUILD_COMMIT and HOPPER_BUILD_DATE; any other build is unstamped and says so.
        .target(name: "CHopperBuild", cSettings: buildStamp),

        // The core: manifest model, spool layout, status. Knows nothing of inotify, processes or SQLite.
        .target(name: "HopperCore", dependencies: ["CYAML", "CHopperSys"], swiftSettings: strict),
        // Watching inboxes: inotify on one dedicated thread, or polling where inotify is blind.
        .target(name: "HopperWatch", dependencies: [
            "HopperCore", "CInotifyTools", .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        // The daemon's private index (SQLite through GRDB) in state/.
        .target(name: "HopperStore", dependencies: [
            "HopperCore", .product(name: "GRDB", package: "GRDB.swift"),
        ], swiftSettings: strict),
        // Executors: workspaces, the local executor (steps under hopper-supervise), results.
        .target(name: "HopperExec", dependencies: [
            "HopperCore",
            .product(name: "Subprocess", package: "swift-subprocess"),
            .product(name: "SystemPackage", package: "swift-system"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        // The per-step supervisor (C, tiny, starts in well under a millisecond): runs one step in
        // its session, caps its log, enforces its timeout, records pid, start and exit status.
        // Linked statically and without the Swift start-up files (-nostartfiles), so no Swift
        // runtime is pulled in: its image constructor alone cost ~0.1 ms of CPU per step start.
        .executableTarget(name: "hopper-supervise", linkerSettings: [.unsafeFlags(["-static-executable", "-use-ld=lld", "-nostartfiles"])]),
        // The daemon's services: intake (where a manifest becomes a job), scheduler, heartbeat.
        .target(name: "HopperDaemon", dependencies: [
            "HopperCore", "HopperWatch", "HopperStore", "HopperExec", "CHopperSys",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
        ], swiftSettings: strict),
        // The one executable: `hopper submit|validate|status|ls|wait|logs|results|cancel|retry|rerun|clean|daemon`.
        .executableTarget(name: "hopper", dependencies: [
            "HopperCore", "HopperStore", "HopperExec", "HopperDaemon", "hopper-supervise", "CHopperBuild",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: strict),
        // Benchmarks (not tests): `swift run -c release hopper-bench intake`.
        .executableTarget(name: "hopper-bench", dependencies: [
            "HopperCore", "HopperStore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: strict),
        // The manifest parser and validator under libFuzzer (`scripts/fuzz`, built with -D FUZZING and
        // -sanitize=fuzzer,address); the plain build is a replayer: `hopper-fuzz FILE…`.
        .executableTarget(name: "hopper-fuzz", dependencies: ["HopperCore"], swiftSettings: strict),

        // What the tests share: waiting for a condition, temporary folders, and a fake step
        // executor (no processes) for unit tests of the scheduler and the job runner.
        .target(name: "HopperTestSupport", dependencies: ["HopperCore", "HopperExec"],
                path: "Tests/HopperTestSupport", swiftSettings: strict),
        .testTarget(name: "HopperCoreTests", dependencies: ["HopperCore"],
                    resources: [.copy("Fixtures")], swiftSettings: strict),
        .testTarget(name: "HopperWatchTests", dependencies: [
            "HopperWatch", "HopperCore", "HopperTestSupport", .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        .testTarget(name: "HopperExecTests", dependencies: ["HopperExec", "HopperCore", "HopperTestSupport"], swiftSettings: strict),
        // The scheduler and the job runner driven with the fake executor: no processes, seconds.
        .testTarget(name: "HopperDaemonTests", dependencies: [
            "HopperDaemon", "HopperCore", "HopperStore", "HopperExec", "HopperWatch", "HopperTestSupport",
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        .testTarget(name: "HopperIntegrationTests", dependencies: [
            "HopperCore", "HopperStore", "HopperExec", "hopper", "hopper-supervise",
            // LocalExecutor driven in-process with the real supervisor (CancelTests).
            // Intake driven step by step (IntakeSwapTests): a swap between examination and commit.
            "HopperDaemon", "HopperWatch", "HopperTestSupport", .product(name: "Logging", package: "swift-log"),
        ],
        // Golden/: whole CLI outputs (GoldenOutputTests), read from the source tree.
        exclude: ["Golden"], swiftSettings: strict),
    ]
)
