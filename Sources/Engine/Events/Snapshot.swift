/// Why a snapshot cannot be restored. Restoring is all or nothing: on any error the runtime keeps
/// the state it had.
public struct SnapshotError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "snapshot rejected: \(message)" }
}

/// Little-endian binary writer for snapshot payloads.
struct SnapshotWriter {
    private(set) var bytes: [UInt8] = []

    mutating func uint8(_ v: UInt8) { bytes.append(v) }
    /// Room for `extra` more bytes, so large states are written without regrowing the buffer.
    mutating func reserve(_ extra: Int) { bytes.reserveCapacity(bytes.count + extra) }
    mutating func uint64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func int64(_ v: Int64) { uint64(UInt64(bitPattern: v)) }
    mutating func int(_ v: Int) { int64(Int64(v)) }
    mutating func double(_ v: Double) { uint64(v.bitPattern) }
    mutating func bool(_ v: Bool) { uint8(v ? 1 : 0) }
    mutating func bytes<C: Collection>(_ b: C) where C.Element == UInt8 {
        int(b.count)
        bytes.append(contentsOf: b)
    }
    mutating func string(_ s: String) { bytes(Array(s.utf8)) }
    /// `count` values of a trivial type, copied as raw little-endian memory (x86_64, arm64) in one go.
    mutating func block<T>(_ p: UnsafePointer<T>, count: Int) {
        int(count)
        bytes.append(contentsOf: UnsafeRawBufferPointer(start: p, count: count * MemoryLayout<T>.stride))
    }
    /// `count` values of a power-of-two ring (`capacity` slots) from slot `head` on, written as
    /// `block` writes them oldest first: the ring is copied in at most two pieces, never linearized.
    mutating func ring<T>(_ base: UnsafePointer<T>, head: Int, count: Int, capacity: Int) {
        int(count)
        guard count > 0 else { return }
        let first = min(count, capacity - head)
        bytes.append(contentsOf: UnsafeRawBufferPointer(start: base + head, count: first * MemoryLayout<T>.stride))
        if first < count { bytes.append(contentsOf: UnsafeRawBufferPointer(start: base, count: (count - first) * MemoryLayout<T>.stride)) }
    }
    mutating func uint64s(_ a: [UInt64]) {
        int(a.count)
        for v in a { uint64(v) }
    }
    mutating func int64s(_ a: [Int64]) {
        int(a.count)
        for v in a { int64(v) }
    }
    mutating func doubles(_ a: [Double]) {
        int(a.count)
        for v in a { double(v) }
    }
}

/// Bounds-checked reader matching `SnapshotWriter`; every read past the end throws.
struct SnapshotReader {
    private let buffer: [UInt8]
    private var offset = 0
    /// Upper bound on any length field, so a corrupt length cannot make us allocate wildly.
    static let lengthMax = 1 << 31

    /// The snapshot format version being read (set once the header is read): sections whose
    /// layout changed read the older layout from older versions.
    var formatVersion: UInt64 = AppRuntime.snapshotVersion

    /// Reads `bytes[0..<end]` (default: all of it) without copying them.
    init(_ bytes: [UInt8], end: Int? = nil) {
        buffer = bytes
        limit = end ?? bytes.count
    }

    private let limit: Int

    var isAtEnd: Bool { offset == limit }

    mutating func uint8() throws(SnapshotError) -> UInt8 {
        guard offset < limit else { throw SnapshotError("truncated") }
        defer { offset += 1 }
        return buffer[offset]
    }

    mutating func uint64() throws(SnapshotError) -> UInt64 {
        guard offset + 8 <= limit else { throw SnapshotError("truncated") }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(buffer[offset + i]) << (8 * UInt64(i)) }
        offset += 8
        return v
    }

    mutating func int64() throws(SnapshotError) -> Int64 { Int64(bitPattern: try uint64()) }
    mutating func double() throws(SnapshotError) -> Double { Double(bitPattern: try uint64()) }
    mutating func bool() throws(SnapshotError) -> Bool { try uint8() != 0 }

    mutating func int() throws(SnapshotError) -> Int {
        let v = try int64()
        guard v >= 0 && v <= Int64(SnapshotReader.lengthMax) else { throw SnapshotError("bad count \(v)") }
        return Int(v)
    }

    mutating func bytes() throws(SnapshotError) -> [UInt8] {
        let n = try int()
        guard offset + n <= limit else { throw SnapshotError("truncated") }
        defer { offset += n }
        return Array(buffer[offset..<offset + n])
    }

    mutating func string() throws(SnapshotError) -> String { String(decoding: try bytes(), as: UTF8.self) }

    /// Reads a block written by `SnapshotWriter.block` into `destination` (room for `expected` values).
    mutating func block<T>(into destination: UnsafeMutablePointer<T>, expected: Int) throws(SnapshotError) {
        let n = try int()
        guard n == expected else { throw SnapshotError("block of \(n) values, expected \(expected)") }
        let byteCount = n * MemoryLayout<T>.stride
        guard offset + byteCount <= limit else { throw SnapshotError("truncated") }
        buffer.withUnsafeBytes { raw in
            UnsafeMutableRawPointer(destination).copyMemory(from: raw.baseAddress! + offset, byteCount: byteCount)
        }
        offset += byteCount
    }

    mutating func uint64s() throws(SnapshotError) -> [UInt64] {
        let n = try int()
        guard offset + 8 * n <= limit else { throw SnapshotError("truncated") }
        var out: [UInt64] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try uint64()) }
        return out
    }

    mutating func int64s() throws(SnapshotError) -> [Int64] { try uint64s().map { Int64(bitPattern: $0) } }
    mutating func doubles() throws(SnapshotError) -> [Double] { try uint64s().map { Double(bitPattern: $0) } }
}

/// The snapshot checksum: 64-bit words mixed multiply–xorshift (8 bytes per step, so a 50 MB
/// snapshot is checked in milliseconds), then the tail bytes. Catches corruption, not tampering.
func checksum64(_ raw: UnsafeRawBufferPointer) -> UInt64 {
    var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(raw.count)
    let words = raw.count / 8
    for i in 0..<words {
        h = (h ^ raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) &* 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 29
    }
    for i in (words * 8)..<raw.count {
        h = (h ^ UInt64(raw[i])) &* 0xC4CE_B9FE_1A85_EC53
    }
    return h ^ (h >> 32)
}

/// FNV-1a 64-bit: the snapshot checksum and the app fingerprint (not cryptographic; it catches
/// corruption and mismatched apps, not tampering).
func fnv1a64<C: Sequence>(_ bytes: C, seed: UInt64 = 0xCBF2_9CE4_8422_2325) -> UInt64 where C.Element == UInt8 {
    var h = seed
    for b in bytes {
        h ^= UInt64(b)
        h &*= 0x100_0000_01B3
    }
    return h
}

extension SnapshotWriter {
    /// One event as (timestamp, boxed values): for the small held state of rate limiters and sessions.
    mutating func row(_ row: (Int64, [Value])) {
        int64(row.0)
        int(row.1.count)
        for v in row.1 {
            switch v {
            case .null: uint8(0)
            case .int(let x): uint8(1); int64(Int64(x))
            case .long(let x): uint8(2); int64(x)
            case .float(let x): uint8(3); double(Double(x))
            case .double(let x): uint8(4); double(x)
            case .string(let x): uint8(5); string(x)
            case .bool(let x): uint8(6); bool(x)
            case .object(let x): uint8(7); string(x)
            }
        }
    }
}

extension SnapshotReader {
    mutating func row() throws(SnapshotError) -> (Int64, [Value]) {
        let t = try int64()
        var values: [Value] = []
        for _ in 0..<(try int()) {
            switch try uint8() {
            case 0: values.append(.null)
            case 1: values.append(.int(Int32(truncatingIfNeeded: try int64())))
            case 2: values.append(.long(try int64()))
            case 3: values.append(.float(Float(try double())))
            case 4: values.append(.double(try double()))
            case 5: values.append(.string(try string()))
            case 6: values.append(.bool(try bool()))
            case 7: values.append(.object(try string()))
            default: throw SnapshotError("bad value tag in held rows")
            }
        }
        return (t, values)
    }
}
