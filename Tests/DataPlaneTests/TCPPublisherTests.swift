import DataPlane
import Engine
import Foundation
import Glibc
import Testing

/// The publisher against plain sockets, independent of the listener: exact bytes, errors, timeouts.
@Suite struct TCPPublisherTests {
    /// A blocking loopback server socket on a free port.
    static func server() -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                precondition(bind(fd, $0, len) == 0)
                precondition(listen(fd, 8) == 0)
                precondition(getsockname(fd, $0, &len) == 0)
            }
        }
        return (fd, Int(UInt16(bigEndian: addr.sin_port)))
    }

    /// Reads until the peer closes.
    static func readAll(_ fd: Int32) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return bytes }
            bytes += chunk[0..<n]
        }
    }

    @Test func sendsTheDocumentedBytes() throws {
        let (listener, port) = TCPPublisherTests.server()
        defer { close(listener) }
        let schema = StreamSchema(name: "S", attributes: [Attribute(name: "sym", type: .string), Attribute(name: "n", type: .int)])
        let publisher = TCPPublisher(host: "localhost", port: port, sessionId: "s1")
        try publisher.connect()
        let peer = accept(listener, nil, nil)
        defer { close(peer) }
        try publisher.send(schema: schema, rows: [(timestamp: 258, values: [.string("AB"), .int(-2)])], channel: "S")
        publisher.close()
        let expected: [UInt8] = [
            0x02, 0, 0, 0, 0x25,                 // protocol, messageSize = 37 bytes after the header
            0, 0, 0, 2, 0x73, 0x31,              // sessionId "s1"
            0, 0, 0, 1, 0x53,                    // channelId "S"
            0, 0, 0, 0x16,                       // payload length 22
            0, 0, 0, 1,                          // eventCount
            0, 0, 0, 0, 0, 0, 1, 2,              // timestamp 258
            0, 0, 0, 2, 0x41, 0x42,              // "AB"
            0xFF, 0xFF, 0xFF, 0xFE,              // -2
        ]
        #expect(TCPPublisherTests.readAll(peer) == expected)
    }

    @Test func rowsThatDoNotFitTheSchemaAreRefusedBeforeSending() throws {
        let (listener, port) = TCPPublisherTests.server()
        defer { close(listener) }
        let schema = StreamSchema(name: "S", attributes: [Attribute(name: "n", type: .int)])
        let publisher = TCPPublisher(host: "127.0.0.1", port: port)
        try publisher.connect()
        #expect(throws: SocketError.self) { try publisher.send(schema: schema, rows: [(timestamp: 1, values: [.string("x")])], channel: "S") }
        publisher.close()
    }

    @Test func connectionRefusedIsAClearError() {
        let (listener, port) = TCPPublisherTests.server()
        close(listener)  // the port is now (almost certainly) closed
        let publisher = TCPPublisher(host: "127.0.0.1", port: port)
        do {
            try publisher.connect()
            Issue.record("connected to a closed port")
        } catch {
            #expect(error.errno == ECONNREFUSED)
            #expect(error.description.contains("connect 127.0.0.1:\(port)"))
        }
        #expect(!publisher.isConnected)
    }

    @Test func unresolvableHostIsAClearError() {
        let publisher = TCPPublisher(host: "no-such-host.invalid", port: 9892)
        #expect(throws: SocketError.self) { try publisher.connect() }
    }

    @Test func sendingWithoutConnectingFails() {
        let publisher = TCPPublisher(host: "127.0.0.1", port: 9892)
        #expect(throws: SocketError.self) { try publisher.writeAll([1, 2, 3]) }
    }

    @Test func aNodeThatNeverReadsTimesTheSendOut() throws {
        let (listener, port) = TCPPublisherTests.server()
        defer { close(listener) }
        let publisher = TCPPublisher(host: "127.0.0.1", port: port, sendTimeoutMs: 200)
        try publisher.connect()
        let peer = accept(listener, nil, nil)  // accepted, never read
        defer { close(peer) }
        let chunk = [UInt8](repeating: 0x02, count: 1 << 20)
        let start = Date()
        var failure: SocketError? = nil
        for _ in 0..<256 {
            do { try publisher.writeAll(chunk) } catch {
                failure = error
                break
            }
        }
        #expect(failure?.errno == ETIMEDOUT, "kernel buffers fill, then the send times out")
        #expect(Date().timeIntervalSince(start) < 30)
        publisher.close()
    }
}
