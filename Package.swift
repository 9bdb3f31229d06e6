// swift-tools-version: 6.1
import PackageDescription

// Layout (see docs/architecture.md):
//   CShims       — the only C: liburing, libmysqlclient, jemalloc headers and tiny inline shims.
//   Engine       — pure Swift Siddhi runtime; imports neither DataPlane nor ControlPlane.
//   DataPlane    — sockets, io_uring/epoll reactors, frame codecs, rings, sinks; never imports ControlPlane.
//   ControlPlane — deployment.yaml, node lifecycle, persistence, (later) cluster coordination and REST.
//   tandem       — the thin command line.
let strictSwift: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
]

let package = Package(
    name: "Tandem",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tandem", targets: ["tandem"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-atomics", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // Already in the graph through Hummingbird and AsyncHTTPClient: named so the data plane can
        // stop its HTTP server gracefully and wait on the http sink's requests.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // Already in the graph through HummingbirdTLS: the databridge receivers' TLS ports.
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        .target(
            name: "CShims",
            path: "Sources/CShims",
            linkerSettings: [
                .linkedLibrary("uring"),
                .linkedLibrary("mysqlclient"),
            ]
        ),
        .target(
            name: "Engine",
            path: "Sources/Engine",
            // The engine's hot loops run on one thread by design; dynamic exclusivity checks on its
            // class-owned buffers cost a TLS lookup per access, so they are checked at compile time only.
            swiftSettings: strictSwift + [.unsafeFlags(["-enforce-exclusivity=unchecked"])]
        ),
        .target(
            name: "DataPlane",
            dependencies: [
                "CShims",
                "Engine",
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                // The http source's https (PEM files, as the REST API's).
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Sources/DataPlane",
            swiftSettings: strictSwift
        ),
        .target(
            name: "ControlPlane",
            dependencies: [
                "CShims",
                "Engine",
                "DataPlane",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdBasicAuth", package: "hummingbird-auth"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/ControlPlane",
            swiftSettings: strictSwift
        ),
        .executableTarget(
            name: "tandem",
            dependencies: [
                "CShims",
                "Engine",
                "DataPlane",
                "ControlPlane",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Sources/tandem",
            swiftSettings: strictSwift,
            // jemalloc replaces malloc for the whole process: Debian builds it without a symbol
            // prefix, so linking it into the executable makes every malloc (Swift runtime included)
            // resolve to jemalloc.
            linkerSettings: [.linkedLibrary("jemalloc")]
        ),
        .testTarget(
            name: "EngineTests",
            dependencies: ["Engine"],
            path: "Tests/EngineTests",
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "DataPlaneTests",
            dependencies: [
                "DataPlane", "Engine",
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/DataPlaneTests",
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "ControlPlaneTests",
            dependencies: [
                "ControlPlane",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Tests/ControlPlaneTests",
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "TandemTests",
            dependencies: [
                "Engine", "DataPlane", "ControlPlane",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Yams", package: "Yams"),
            ],
            path: "Tests/TandemTests",
            swiftSettings: strictSwift
        ),
    ]
)
