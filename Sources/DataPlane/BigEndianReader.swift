/// Bounds-checked big-endian reads from a byte buffer (unaligned loads); every read returns nil past
/// the end and leaves the offset unchanged.
struct BigEndianReader {
    private let buffer: UnsafeRawBufferPointer
    private(set) var offset = 0

    @inline(__always)
    init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer }

    @inline(__always)
    var remaining: Int { buffer.count - offset }

    @inline(__always)
    mutating func uint8() -> UInt8? {
        guard remaining >= 1 else { return nil }
        defer { offset += 1 }
        return buffer[offset]
    }

    @inline(__always)
    mutating func uint32() -> UInt32? {
        guard remaining >= 4 else { return nil }
        defer { offset += 4 }
        return UInt32(bigEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inline(__always)
    mutating func uint64() -> UInt64? {
        guard remaining >= 8 else { return nil }
        defer { offset += 8 }
        return UInt64(bigEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    @inline(__always)
    mutating func int32() -> Int32? { uint32().map { Int32(bitPattern: $0) } }

    @inline(__always)
    mutating func int64() -> Int64? { uint64().map { Int64(bitPattern: $0) } }

    /// A non-negative int32 length; nil when negative or past the end.
    @inline(__always)
    mutating func length() -> Int? {
        guard let v = int32(), v >= 0 else { return nil }
        return Int(v)
    }

    /// An int32 length whose bytes follow inside the buffer; `badLength(field, …)` otherwise
    /// (-1 when the length field itself is cut off).
    @inline(__always)
    mutating func lengthField(_ field: FrameField) throws(FrameDecodeError) -> Int {
        guard let v = int32() else { throw .badLength(field, -1) }
        let length = Int(v)
        guard length >= 0 && length <= remaining else { throw .badLength(field, length) }
        return length
    }

    @inline(__always)
    mutating func skip(_ n: Int) -> Bool {
        guard n >= 0 && remaining >= n else { return false }
        offset += n
        return true
    }

    /// The next `n` bytes, without copying.
    @inline(__always)
    mutating func raw(_ n: Int) -> UnsafeRawBufferPointer? {
        guard n >= 0 && remaining >= n else { return nil }
        defer { offset += n }
        return UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + n])
    }
}

extension UnsafeRawBufferPointer {
    @inline(__always)
    func loadBigEndianUInt32(at offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}

extension UnsafeRawBufferPointer {
    @inline(__always)
    func loadBigEndianUInt64(at offset: Int) -> UInt64 {
        UInt64(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}
