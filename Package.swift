// swift-tools-version:6.0
import PackageDescription

// No package dependencies: the Swift toolchain only.
let package = Package(
    name: "kvserver",
    products: [
        .library(name: "KVEngine", targets: ["KVEngine"]),
        .executable(name: "kvbench", targets: ["kvbench"]),
    ],
    targets: [
        // C headers Swift's Glibc module does not export (malloc.h).
        .target(name: "CKVSupport"),
        .target(
            name: "KVEngine",
            dependencies: ["CKVSupport"],
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked", "-cross-module-optimization"])]
        ),
        .executableTarget(name: "kvbench", dependencies: ["KVEngine", "CKVSupport"]),
        .testTarget(name: "KVEngineTests", dependencies: ["KVEngine", "CKVSupport"]),
    ]
)
