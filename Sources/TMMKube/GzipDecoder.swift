import CZlib

/// Incremental gzip decompression with zlib, for `Content-Encoding: gzip` bodies and streams.
/// One instance per body; not thread-safe.
final class GzipDecoder {
    private var stream = z_stream()
    private var finished = false

    init() throws(KubeError) {
        // 15 + 16: a gzip wrapper, the largest window.
        guard tmm_inflateInit2(&stream, 15 + 16) == Z_OK else {
            throw KubeError(.decode, "cannot initialise zlib")
        }
    }

    deinit { inflateEnd(&stream) }

    /// Decompresses `input` and returns what it yields (possibly nothing yet).
    func decode(_ input: [UInt8]) throws(KubeError) -> [UInt8] {
        guard !input.isEmpty, !finished else { return [] }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: max(16 * 1024, input.count * 4))
        var status: Int32 = Z_OK
        input.withUnsafeBufferPointer { inputBuffer in
            stream.next_in = UnsafeMutablePointer(mutating: inputBuffer.baseAddress)
            stream.avail_in = UInt32(inputBuffer.count)
            repeat {
                chunk.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = UInt32(out.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                }
                let produced = chunk.count - Int(stream.avail_out)
                output.append(contentsOf: chunk[0..<produced])
            } while status == Z_OK && (stream.avail_in > 0 || stream.avail_out == 0)
            stream.next_in = nil
            stream.next_out = nil
        }
        switch status {
        case Z_OK, Z_BUF_ERROR: break
        case Z_STREAM_END: finished = true
        default:
            let reason = stream.msg.map { String(cString: $0) } ?? "error \(status)"
            throw KubeError(.decode, "the gzip response body is corrupt: \(reason)")
        }
        return output
    }

    /// Decompresses a whole gzip body.
    static func decodeAll(_ input: [UInt8]) throws(KubeError) -> [UInt8] {
        let decoder = try GzipDecoder()
        let out = try decoder.decode(input)
        guard decoder.finished else { throw KubeError(.decode, "the gzip response body is truncated") }
        return out
    }
}
