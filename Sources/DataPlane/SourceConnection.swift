import Glibc

/// One accepted publisher connection: its receive buffer and frame decoder.
///
/// Bytes are received into `buffer[filled..<capacity]`, complete frames decoded in place, and the
/// trailing partial frame moved to the front. The buffer grows only to hold one frame of up to
/// `maxFrameBytes`, so memory per connection is bounded.
final class SourceConnection {
    static let initialBufferBytes = 256 << 10

    let fd: Int32
    let peer: String
    let decoder: FrameDecoder
    private(set) var buffer: UnsafeMutableRawPointer
    private(set) var capacity: Int
    private(set) var filled = 0

    init(fd: Int32, decoder: FrameDecoder) {
        self.fd = fd
        self.decoder = decoder
        peer = Socket.peerName(fd)
        capacity = min(SourceConnection.initialBufferBytes, decoder.maxFrameBytes)
        buffer = .allocate(byteCount: capacity, alignment: 16)
    }

    deinit { buffer.deallocate() }

    /// Where the next receive writes, and how much room it has.
    var receiveArea: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: buffer + filled, count: capacity - filled)
    }

    /// Bytes of an incomplete frame left over (reported when a connection closes mid-frame).
    var partialBytes: Int { filled }

    /// Accounts `n` newly received bytes and decodes every complete frame.
    func received(_ n: Int, emit: (SourceChannel, Engine.EventBatch) -> Void) throws(FrameDecodeError) {
        precondition(n > 0 && filled + n <= capacity)
        filled += n
        let consumed = try decoder.decode(UnsafeRawBufferPointer(start: buffer, count: filled), emit: emit)
        if consumed > 0 {
            filled -= consumed
            if filled > 0 { memmove(buffer, buffer + consumed, filled) }
        }
        // Make room for the whole next frame when it is larger than the buffer.
        if filled == capacity || filled > 0 {
            if let length = try decoder.frameLength(UnsafeRawBufferPointer(start: buffer, count: filled)), length > capacity {
                grow(to: length)
            }
        }
    }

    private func grow(to bytes: Int) {
        let newBuffer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 16)
        newBuffer.copyMemory(from: buffer, byteCount: filled)
        buffer.deallocate()
        buffer = newBuffer
        capacity = bytes
    }
}

import Engine
