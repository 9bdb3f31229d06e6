import Engine
import Glibc

/// One accepted publisher connection: its receive buffer and frame decoder.
///
/// Bytes are received into `buffer[filled..<capacity]`, complete frames decoded in place, and the
/// trailing partial frame moved to the front. The buffer grows only to hold one frame of up to
/// `maxFrameBytes` and shrinks back once that frame is decoded, so memory per connection is bounded.
///
/// Reactor-thread only.
final class SourceConnection {
    static let initialBufferBytes = 64 << 10

    /// Listener-unique id (never reused while the connection lives); reactors tag their operations
    /// with it rather than with the fd, which the kernel reuses as soon as it is closed.
    let id: UInt32
    let fd: Int32
    let peer: String
    let decoder: FrameDecoder
    /// False once a receive found the socket drained: the partial batch can be handed on now.
    var mayHaveMore = false
    /// io_uring only: a recv into `buffer` is in flight, so the buffer must not move or be freed.
    var receiveArmed = false
    private(set) var buffer: UnsafeMutableRawPointer
    private(set) var capacity: Int
    private(set) var filled = 0

    init(id: UInt32, fd: Int32, decoder: FrameDecoder) {
        self.id = id
        self.fd = fd
        self.decoder = decoder
        peer = Socket.peerName(fd)
        capacity = min(SourceConnection.initialBufferBytes, decoder.maxFrameBytes)
        buffer = .allocate(byteCount: capacity, alignment: 16)
    }

    deinit {
        precondition(!receiveArmed, "freeing a buffer the kernel may be writing into")
        buffer.deallocate()
    }

    /// Where the next receive writes, and how much room it has (never empty).
    var receiveArea: UnsafeMutableRawBufferPointer {
        assert(filled < capacity, "receive buffer full: the frame should have grown it")
        return UnsafeMutableRawBufferPointer(start: buffer + filled, count: capacity - filled)
    }

    /// Bytes of an incomplete frame left over (reported when a connection closes mid-frame).
    var partialBytes: Int { filled }

    /// Accounts `n` newly received bytes and decodes every complete frame.
    func received(_ n: Int, emit: (SourceChannel, EventBatch) -> Void) throws(FrameDecodeError) {
        precondition(n > 0 && filled + n <= capacity, "received more than the receive area")
        filled += n
        let consumed = try decoder.decode(UnsafeRawBufferPointer(start: buffer, count: filled), emit: emit)
        if consumed > 0 {
            filled -= consumed
            if filled > 0 { memmove(buffer, buffer + consumed, filled) }
        }
        let next = try decoder.frameLength(UnsafeRawBufferPointer(start: buffer, count: filled))
        if let next, next > capacity {
            // The next frame is larger than the buffer: make room for all of it (≤ maxFrameBytes).
            resize(to: next)
        } else if capacity > SourceConnection.initialBufferBytes && filled < SourceConnection.initialBufferBytes
                    && (next ?? 0) <= SourceConnection.initialBufferBytes {
            // A large frame is done: give its memory back.
            resize(to: SourceConnection.initialBufferBytes)
        }
        assert(filled < capacity)
    }

    private func resize(to bytes: Int) {
        precondition(!receiveArmed, "resizing a buffer the kernel may be writing into")
        precondition(bytes > filled && bytes <= decoder.maxFrameBytes || bytes == SourceConnection.initialBufferBytes)
        let newBuffer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 16)
        newBuffer.copyMemory(from: buffer, byteCount: filled)
        buffer.deallocate()
        buffer = newBuffer
        capacity = bytes
    }
}
