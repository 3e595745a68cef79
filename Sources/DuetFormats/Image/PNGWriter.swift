import Foundation

/// Writes 8-bit grayscale PNG files (PNG 1.2 / ISO 15948) in pure Swift, atomically through `AtomicFile`.
///
/// The file is the signature, `IHDR` (width, height, bit depth 8, colour type 0 = grayscale, deflate, no
/// interlace), one `IDAT` and `IEND`; every chunk carries its CRC-32 (`Checksums.crc32` over type and data). The
/// `IDAT` data is a zlib stream (RFC 1950: header `78 01`, Adler-32 of the raw data at the end) whose deflate
/// blocks are *stored* (RFC 1951 block type 0, up to 65 535 bytes each): no compression, so a file is about
/// `height · (width + 1)` bytes, which is small for the slice views Duet writes. Each row is preceded by filter
/// type 0 (none). Row 0 is the top of the picture.
public enum PNGWriter {
    /// The eight bytes every PNG file starts with.
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// The PNG file of `image`.
    public static func encode(_ image: GrayImage8) -> Data {
        var file = Data(signature)
        var header = Data()
        header.appendBigEndian(UInt32(image.width))
        header.appendBigEndian(UInt32(image.height))
        header.append(contentsOf: [8, 0, 0, 0, 0])      // bit depth, colour type, compression, filter, interlace
        appendChunk("IHDR", header, to: &file)
        var raw = [UInt8]()
        raw.reserveCapacity(image.height * (image.width + 1))
        for row in 0..<image.height {
            raw.append(0)                                // filter type: none
            raw.append(contentsOf: image.pixels[(row * image.width)..<((row + 1) * image.width)])
        }
        appendChunk("IDAT", zlibStored(raw), to: &file)
        appendChunk("IEND", Data(), to: &file)
        return file
    }

    /// Writes `image` to `path` atomically.
    public static func write(_ image: GrayImage8, to path: String) throws {
        try AtomicFile.write(encode(image), to: path)
    }

    /// Writes a float image (`values[x + width·row]`, row 0 at the top) with `range` mapped onto black…white
    /// (`GrayImage8.init(width:height:values:range:)`).
    public static func write(values: [Float], width: Int, height: Int, range: DisplayRange = .meanSigma(3),
                             to path: String) throws {
        let image = GrayImage8(width: width, height: height, values: values, range: range.bounds(of: values))
        try write(image, to: path)
    }

    /// A zlib stream of `raw` made of stored deflate blocks.
    static func zlibStored(_ raw: [UInt8]) -> Data {
        var stream = Data([0x78, 0x01])                 // deflate, 32 KiB window; FCHECK makes 0x7801 % 31 == 0
        let blockSize = 65_535
        var start = 0
        repeat {
            let end = min(start + blockSize, raw.count)
            let length = UInt16(end - start)
            stream.append(end == raw.count ? 1 : 0)     // BFINAL, BTYPE 00 (stored), byte-aligned
            stream.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8),
                                       UInt8(~length & 0xFF), UInt8(~length >> 8)])
            stream.append(contentsOf: raw[start..<end])
            start = end
        } while start < raw.count
        stream.appendBigEndian(Checksums.adler32(raw))
        return stream
    }

    /// Appends length, type, data and the CRC-32 of type + data.
    private static func appendChunk(_ type: String, _ data: Data, to file: inout Data) {
        let typeBytes = Array(type.utf8)
        file.appendBigEndian(UInt32(data.count))
        file.append(contentsOf: typeBytes)
        file.append(data)
        file.appendBigEndian(Checksums.crc32(data, continuing: Checksums.crc32(typeBytes)))
    }
}

extension Data {
    fileprivate mutating func appendBigEndian(_ value: UInt32) {
        append(contentsOf: [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF),
                            UInt8(value & 0xFF)])
    }
}
