import CShims

/// Versions of Tandem and of the native libraries this process actually runs with.
public struct BuildInfo: Sendable {
    /// Tandem's own version.
    public static let tandemVersion = "0.1.0"

    public var tandem: String
    /// jemalloc version read through `mallctl("version")`; nil when jemalloc is not the allocator.
    public var jemalloc: String?
    public var liburing: String
    public var mysqlClient: String
    /// 0 when io_uring can be used here, else the negative errno the kernel returned.
    public var ioUringProbe: Int32

    /// Reads the versions from the loaded libraries (not from build-time headers).
    public static func current() -> BuildInfo {
        var buffer = [CChar](repeating: 0, count: 64)
        tandem_liburing_version(&buffer, buffer.count)
        let liburing = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return BuildInfo(
            tandem: tandemVersion,
            jemalloc: tandem_jemalloc_version().map { String(cString: $0) },
            liburing: liburing,
            mysqlClient: String(cString: mysql_get_client_info()),
            ioUringProbe: tandem_io_uring_probe()
        )
    }

    /// Lines for `tandem version`.
    public var lines: [String] {
        [
            "tandem \(tandem)",
            "jemalloc \(jemalloc ?? "not linked (system malloc)")",
            "liburing \(liburing) (io_uring \(ioUringProbe == 0 ? "available" : "refused by the kernel: errno \(-ioUringProbe)"))",
            "mysql-client \(mysqlClient)",
        ]
    }
}
