import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs the real `tandem` executable (built next to the test bundle) as a child process and reads
/// its output line by line. Used by the end-to-end tests: real process, real sockets.
final class NodeProcess: @unchecked Sendable {
    let process = Process()
    private let stdoutPipe = Pipe()
    private let stderrPipe = Pipe()
    private let lock = NSLock()
    private var stdoutLines: [String] = []
    private var stderrText = ""
    private var partial = ""

    /// The `tandem` binary in the same build folder as this test bundle.
    static var tandemPath: String {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        // The test binary may live inside TandemPackageTests.xctest/ on some layouts.
        while !FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("tandem").path),
              dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("tandem").path
    }

    /// - Parameter executable: what to run instead of `tandem` (e.g. `ip netns exec NS tandem …`).
    init(arguments: [String], workingDirectory: URL, environment: [String: String] = [:], executable: String? = nil) throws {
        process.executableURL = URL(fileURLWithPath: executable ?? NodeProcess.tandemPath)
        process.arguments = arguments
        process.currentDirectoryURL = workingDirectory
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        stdoutPipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.lock()
            self.partial += String(decoding: data, as: UTF8.self)
            while let newline = self.partial.firstIndex(of: "\n") {
                self.stdoutLines.append(String(self.partial[..<newline]))
                self.partial = String(self.partial[self.partial.index(after: newline)...])
            }
            self.lock.unlock()
        }
        stderrPipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.lock()
            self.stderrText += String(decoding: data, as: UTF8.self)
            self.lock.unlock()
        }
        try process.run()
    }

    var lines: [String] {
        lock.lock(); defer { lock.unlock() }
        return stdoutLines
    }

    var stderr: String {
        lock.lock(); defer { lock.unlock() }
        return stderrText
    }

    /// Waits until `predicate` holds for stdout lines + stderr text, or the timeout passes.
    @discardableResult
    func waitFor(timeoutSec: Double, _ predicate: ([String], String) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeoutSec)
        while Date() < deadline {
            if predicate(lines, stderr) { return true }
            if !process.isRunning { return predicate(lines, stderr) }
            usleep(20_000)
        }
        return predicate(lines, stderr)
    }

    /// Sends SIGTERM and waits for exit; returns the exit status (or -1 on timeout, after SIGKILL).
    func terminate(timeoutSec: Double = 10) -> Int32 {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        let deadline = Date().addingTimeInterval(timeoutSec)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return -1
        }
        process.waitUntilExit()
        usleep(50_000)  // let the readability handlers drain the pipes
        return process.terminationStatus
    }

    /// Runs `tandem ARGS` (or `executable ARGS`) to completion and returns (status, stdout, stderr).
    static func runToEnd(_ arguments: [String], workingDirectory: URL, timeoutSec: Double = 60,
                         executable: String? = nil) throws -> (Int32, String, String) {
        let node = try NodeProcess(arguments: arguments, workingDirectory: workingDirectory, executable: executable)
        let deadline = Date().addingTimeInterval(timeoutSec)
        while node.process.isRunning && Date() < deadline { usleep(10_000) }
        if node.process.isRunning { kill(node.process.processIdentifier, SIGKILL) }
        node.process.waitUntilExit()
        usleep(50_000)
        return (node.process.terminationStatus, node.lines.joined(separator: "\n"), node.stderr)
    }
}

/// A TCP port free on loopback right now (bind to 0, read it back, close).
func freeTCPPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    precondition(fd >= 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    withUnsafeMutablePointer(to: &addr) { ptr in
        ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
            precondition(bind(fd, sa, len) == 0)
            precondition(getsockname(fd, sa, &len) == 0)
        }
    }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// A TCP connection to 127.0.0.1:port, or -1 when nothing accepts there.
func connectLoopback(port: Int) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return -1 }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard rc == 0 else {
        close(fd)
        return -1
    }
    return fd
}

/// A fresh temporary directory for one test.
func makeTempDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
