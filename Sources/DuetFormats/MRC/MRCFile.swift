import DuetCore
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An MRC2014 file (`.mrc`, `.mrcs`, `.map`) opened for reading: the header is read when it is opened, the data only
/// when asked for, and then only the bytes asked for (positioned reads, `pread`), never the whole file.
///
/// Conventions:
/// - Modes read: 0 (int8 — *signed*, as MRC2014 says), 1 (int16), 2 (float32), 6 (uint16), 12 (float16), in
///   either byte order; values are returned as `Float` without any scaling.
/// - The extended header (`nsymbt` bytes, e.g. FEI1/FEI2 or CCP4 symmetry records) is skipped.
/// - Images: section `i` (0-based) is `nx * ny` floats, row-major with x (columns) fastest, exactly as stored;
///   `readSection(index:)`/`readImages(range:)` do **not** apply the axis order, which is what an image stack needs.
/// - Volumes: `readVolume()` applies `mapc`/`mapr`/`maps`, so the result is indexed by the physical (x, y, z) axes,
///   x fastest, z slowest (for EMD-3001, axis order 3 1 2 and 73 × 43 × 25 in the file, the volume is 43 × 25 × 73).
///   An axis order that is not a permutation of 1 2 3 (e.g. all zero) is read as 1 2 3.
/// - Pixel size: `pixelSize_A` = `cella.x / mx`, `nil` when unset.
/// - gzip/bzip2-compressed files are not supported: they are reported as such.
/// - Errors are `DuetError`s with one line naming the file.
///
/// Not thread-safe: one reader keeps one reusable byte buffer. Use one reader per thread.
public final class MRCFile {
    /// The path the file was opened with.
    public let path: String
    /// The parsed header.
    public let header: MRCHeader
    /// Size of the file in bytes when it was opened.
    public let fileSize: Int
    /// Byte offset of the first voxel: 1024 + `nsymbt`.
    public let dataOffset: Int
    /// Bytes per voxel on disk for the file's mode.
    public let bytesPerVoxel: Int
    /// Total number of bytes this reader has read from the data block so far (a diagnostic: it shows that reading a
    /// range of images reads only those images).
    public private(set) var dataBytesRead = 0

    private let descriptor: Int32
    private var scratch: UnsafeMutableRawPointer
    private var scratchCapacity: Int

    /// Opens `path` and reads its header. Throws `DuetError` if the file is missing or unreadable, compressed,
    /// shorter than the header, not MRC, of an unsupported mode, or shorter than header + extended header + data.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            let reason = errno == ENOENT ? "no such file" : String(cString: strerror(errno))
            throw DuetError("cannot open MRC file \(path): \(reason)")
        }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw DuetError("cannot open MRC file \(path): not a regular file")
        }
        let size = Int(info.st_size)
        var raw = [UInt8](repeating: 0, count: min(size, MRCHeader.byteCount))
        let got = raw.withUnsafeMutableBytes { buffer in
            Self.readFully(fd, buffer.baseAddress!, count: buffer.count, offset: 0)
        }
        guard got == raw.count else {
            close(fd)
            throw DuetError("cannot read MRC file \(path): \(String(cString: strerror(errno)))")
        }
        if raw.count >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
            close(fd)
            throw DuetError("\(path) is gzip-compressed: Duet reads uncompressed MRC only; run gunzip first")
        }
        if raw.count >= 3 && raw[0] == 0x42 && raw[1] == 0x5a && raw[2] == 0x68 {
            close(fd)
            throw DuetError("\(path) is bzip2-compressed: Duet reads uncompressed MRC only; run bunzip2 first")
        }
        let header: MRCHeader
        do {
            header = try MRCHeader(parsing: raw, source: path)
        } catch {
            close(fd)
            throw error
        }
        guard let bytes = header.bytesPerVoxel else {
            close(fd)
            throw DuetError("\(path): MRC mode \(header.mode) (\(MRCHeader.modeName(header.mode))) is not supported; "
                            + "Duet reads modes 0, 1, 2, 6, 12")
        }
        let offset = MRCHeader.byteCount + header.nsymbt
        let (voxels, overflowA) = header.nx.multipliedReportingOverflow(by: header.ny)
        let (volume, overflowB) = voxels.multipliedReportingOverflow(by: header.nz * bytes)
        let (needed, overflowC) = volume.addingReportingOverflow(offset)
        guard !overflowA, !overflowB, !overflowC, size >= needed else {
            close(fd)
            throw DuetError("\(path): data truncated: file has \(size) bytes but header (1024) + extended header "
                            + "(\(header.nsymbt)) + \(header.nx)×\(header.ny)×\(header.nz) mode-\(header.mode) data "
                            + "need \(needed)")
        }
        self.header = header
        self.fileSize = size
        self.dataOffset = offset
        self.bytesPerVoxel = bytes
        self.descriptor = fd
        scratchCapacity = 0
        scratch = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 16)
    }

    deinit {
        close(descriptor)
        scratch.deallocate()
    }

    /// Columns per image (header `nx`).
    public var nx: Int { header.nx }
    /// Rows per image (header `ny`).
    public var ny: Int { header.ny }
    /// Number of sections (header `nz`): the number of images of a stack.
    public var imageCount: Int { header.nz }
    /// Floats per image, `nx * ny`.
    public var imageSize: Int { header.nx * header.ny }
    /// Voxel size in Å along x (`cella.x / mx`), `nil` when the header leaves it unset.
    public var pixelSize_A: Float? { header.pixelSize_A }
    /// Whether the file holds images rather than a volume: space group 0, or a `.mrcs` file with more than one
    /// section (stacks are often written with a volume header).
    public var isImageStack: Bool {
        header.ispg == 0 || (header.nz > 1 && path.lowercased().hasSuffix(".mrcs"))
    }

    /// Reads section (image) `index`, 0-based: `nx * ny` floats, x fastest, as stored.
    public func readSection(index: Int) throws -> [Float] {
        try readImages(range: index..<(index + 1))
    }

    /// Reads the sections (images) in `range`, 0-based: `range.count * nx * ny` floats, image after image, each x
    /// fastest, as stored. Reads only those bytes from disk.
    public func readImages(range: Range<Int>) throws -> [Float] {
        try checkRange(range)
        let count = range.count * imageSize
        return try [Float](unsafeUninitializedCapacity: count) { buffer, initialised in
            try readImages(range: range, into: buffer)
            initialised = count
        }
    }

    /// Reads the sections in `range` into `array`, resizing it to `range.count * nx * ny` only if its size differs,
    /// so a caller reading image after image into the same array allocates once.
    public func readImages(range: Range<Int>, into array: inout [Float]) throws {
        try checkRange(range)
        let count = range.count * imageSize
        if array.count != count { array = [Float](repeating: 0, count: count) }
        try array.withUnsafeMutableBufferPointer { try readImages(range: range, into: $0) }
    }

    /// Reads the sections in `range` into `buffer`, which must hold at least `range.count * nx * ny` floats.
    public func readImages(range: Range<Int>, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        try checkRange(range)
        let count = range.count * imageSize
        precondition(buffer.count >= count, "readImages: buffer holds \(buffer.count) floats, need \(count)")
        guard count > 0 else { return }
        let first = dataOffset + range.lowerBound * imageSize * bytesPerVoxel
        try readVoxels(count: count, offset: first, into: buffer.baseAddress!)
    }

    /// Reads all data as a volume in physical (x, y, z) order, x fastest, applying the axis order
    /// `mapc`/`mapr`/`maps`; `pixelSize_A` from the header.
    public func readVolume() throws -> MRCVolume {
        let (c, r, s) = (header.nx, header.ny, header.nz)
        let order = header.hasValidAxisOrder ? [header.mapc, header.mapr, header.maps] : [1, 2, 3]
        var dims = [0, 0, 0]
        dims[order[0] - 1] = c
        dims[order[1] - 1] = r
        dims[order[2] - 1] = s
        if order == [1, 2, 3] {
            return MRCVolume(nx: c, ny: r, nz: s, pixelSize_A: header.pixelSize_A,
                             data: try readImages(range: 0..<s))
        }
        let physicalStride = [1, dims[0], dims[0] * dims[1]]
        let strideC = physicalStride[order[0] - 1]
        let strideR = physicalStride[order[1] - 1]
        let strideS = physicalStride[order[2] - 1]
        var section = [Float](repeating: 0, count: c * r)
        var data = [Float](repeating: 0, count: c * r * s)
        try data.withUnsafeMutableBufferPointer { out in
            for k in 0..<s {
                try readImages(range: k..<(k + 1), into: &section)
                section.withUnsafeBufferPointer { input in
                    for j in 0..<r {
                        let base = k * strideS + j * strideR
                        for i in 0..<c { out[base + i * strideC] = input[i + c * j] }
                    }
                }
            }
        }
        return MRCVolume(nx: dims[0], ny: dims[1], nz: dims[2], pixelSize_A: header.pixelSize_A, data: data)
    }

    /// Opens `path` and reads it as a volume (see `readVolume()`).
    public static func readVolume(path: String) throws -> MRCVolume {
        try MRCFile(path: path).readVolume()
    }

    // MARK: Internals

    private func checkRange(_ range: Range<Int>) throws {
        let n = header.nz
        if range.lowerBound < 0 {
            throw DuetError("image \(range.lowerBound) requested but \(path) has \(n) (indices start at 0)")
        }
        if range.upperBound > n {
            let index = range.isEmpty ? range.upperBound : range.upperBound - 1
            throw DuetError("image \(index) requested but \(path) has \(n) (indices start at 0)")
        }
    }

    /// Reads `count` voxels starting at byte `offset` and converts them to Float in `out`.
    private func readVoxels(count: Int, offset: Int, into out: UnsafeMutablePointer<Float>) throws {
        let byteCount = count * bytesPerVoxel
        let littleHost = 1.littleEndian == 1
        let direct = header.mode == 2 && (header.byteOrder == .littleEndian) == littleHost
        let target: UnsafeMutableRawPointer
        if direct {
            target = UnsafeMutableRawPointer(out)
        } else {
            if scratchCapacity < byteCount {
                scratch.deallocate()
                scratch = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 16)
                scratchCapacity = byteCount
            }
            target = scratch
        }
        let got = Self.readFully(descriptor, target, count: byteCount, offset: offset)
        guard got == byteCount else {
            let reason = got < 0 ? String(cString: strerror(errno)) : "file ended early (was it truncated?)"
            throw DuetError("cannot read \(byteCount) bytes at offset \(offset) of \(path): \(reason)")
        }
        dataBytesRead += byteCount
        if !direct {
            MRCConversion.convert(UnsafeRawPointer(scratch), count: count, mode: header.mode,
                                  byteOrder: header.byteOrder, into: out)
        }
    }

    /// `pread` until `count` bytes are read or the file ends; returns the number read, or -1 on error.
    private static func readFully(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, count: Int, offset: Int) -> Int {
        var done = 0
        while done < count {
            let n = pread(fd, buffer + done, count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                return -1
            }
            if n == 0 { break }
            done += n
        }
        return done
    }
}

/// Conversion of raw MRC voxels to Float.
enum MRCConversion {
    /// Converts `count` voxels of `mode` in `byteOrder` at `raw` (any alignment) into `out`.
    static func convert(_ raw: UnsafeRawPointer, count: Int, mode: Int, byteOrder: MRCByteOrder,
                        into out: UnsafeMutablePointer<Float>) {
        let little = byteOrder == .littleEndian
        switch mode {
        case 0:
            for i in 0..<count { out[i] = Float(raw.load(fromByteOffset: i, as: Int8.self)) }
        case 1:
            for i in 0..<count {
                let v = raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
                out[i] = Float(Int16(bitPattern: little ? UInt16(littleEndian: v) : UInt16(bigEndian: v)))
            }
        case 6:
            for i in 0..<count {
                let v = raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
                out[i] = Float(little ? UInt16(littleEndian: v) : UInt16(bigEndian: v))
            }
        case 12:
            for i in 0..<count {
                let v = raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
                out[i] = halfToFloat(little ? UInt16(littleEndian: v) : UInt16(bigEndian: v))
            }
        case 2:
            for i in 0..<count {
                let v = raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)
                out[i] = Float(bitPattern: little ? UInt32(littleEndian: v) : UInt32(bigEndian: v))
            }
        default:
            preconditionFailure("MRCConversion: mode \(mode) is not supported")
        }
    }

    /// IEEE 754 binary16 to binary32, exact (subnormals, infinities and NaNs included).
    @inline(__always)
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32((h >> 10) & 0x1f)
        let mantissa = UInt32(h & 0x3ff)
        if exponent == 0 {
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        }
        if exponent == 31 {
            return Float(bitPattern: sign | 0x7f80_0000 | (mantissa << 13))
        }
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }
}
