// swift-tools-version:6.0
import PackageDescription

// No package dependencies: the Swift toolchain only.
let package = Package(
    name: "kvserver",
    products: [
        .library(name: "RESP", targets: ["RESP"]),
        .library(name: "KVEngine", targets: ["KVEngine"]),
        .executable(name: "kvserver", targets: ["kvserver"]),
        .executable(name: "kvcli", targets: ["kvcli"]),
        .executable(name: "kvbench", targets: ["kvbench"]),
        .executable(name: "kvdifftest", targets: ["kvdifftest"]),
    ],
    targets: [
        // C headers Swift's Glibc module does not export (malloc.h, epoll, eventfd, accept4).
        .target(name: "CKVSupport"),
        // malloc and friends replaced by counting wrappers: used_memory and the memory limit (docs/memory.md).
        // The server executable only.
        .target(name: "CAllocCount"),
        // Redis' wire formats, shared by the server and its clients: RESP requests and replies, inline
        // commands, the byte buffers they travel in, and Redis' number syntax.
        .target(
            name: "RESP",
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked", "-cross-module-optimization"])]
        ),
        .target(
            name: "KVEngine",
            dependencies: ["CKVSupport", "RESP"],
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked", "-cross-module-optimization"])]
        ),
        .executableTarget(
            name: "kvserver",
            dependencies: ["KVEngine", "RESP", "CKVSupport", "CAllocCount"],
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])]
        ),
        .executableTarget(name: "kvcli", dependencies: ["RESP"]),
        .executableTarget(name: "kvbench", dependencies: ["KVEngine", "CKVSupport"]),
        // The differential tester: the same random stream to redis-server and kvserver (docs/testing.md).
        .executableTarget(name: "kvdifftest", dependencies: ["RESP", "KVEngine"]),
        .testTarget(name: "KVEngineTests", dependencies: ["KVEngine", "RESP", "CKVSupport"]),
        // Runs the kvserver binary (built by scripts/test before the tests) as a separate process.
        .testTarget(name: "ServerTests", dependencies: ["RESP", "KVEngine"]),
    ]
)
