// swift-tools-version:6.0
import PackageDescription

// No package dependencies: the Swift toolchain only.
let package = Package(
    name: "kvserver",
    products: [
        .library(name: "KVEngine", targets: ["KVEngine"]),
        .executable(name: "kvserver", targets: ["kvserver"]),
        .executable(name: "kvcli", targets: ["kvcli"]),
        .executable(name: "kvbench", targets: ["kvbench"]),
        .executable(name: "kvdifftest", targets: ["kvdifftest"]),
    ],
    targets: [
        // C headers Swift's Glibc module does not export (malloc.h, epoll, eventfd, accept4).
        .target(name: "CKVSupport"),
        .target(
            name: "KVEngine",
            dependencies: ["CKVSupport"],
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked", "-cross-module-optimization"])]
        ),
        .executableTarget(
            name: "kvserver",
            dependencies: ["KVEngine", "CKVSupport"],
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])]
        ),
        .executableTarget(name: "kvcli", dependencies: ["KVEngine"]),
        .executableTarget(name: "kvbench", dependencies: ["KVEngine", "CKVSupport"]),
        // The differential tester: the same random stream to redis-server and kvserver (docs/testing.md).
        .executableTarget(name: "kvdifftest", dependencies: ["KVEngine"]),
        .testTarget(name: "KVEngineTests", dependencies: ["KVEngine", "CKVSupport"]),
        // Runs the kvserver binary (built by scripts/test before the tests) as a separate process.
        .testTarget(name: "ServerTests", dependencies: ["KVEngine"]),
    ]
)
