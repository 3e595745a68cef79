import DuetCore
import Foundation

/// Writes MRC2014 files: mode 2 (float32), little-endian, atomically (through `AtomicFile`: a failure leaves no file).
///
/// Header conventions: "MAP " id, machine stamp `0x44 0x44 0 0`, `nversion` 20140, axis order 1 2 3, cell angles
/// 90°, origin 0, starts 0, no extended header, one label; `dmin`/`dmax`/`dmean`/`rms` computed from the data
/// (`rms` = standard deviation about the mean, as `mrcfile` and RELION define it).
/// - Volume: `ispg` 1, `mx/my/mz` = `nx/ny/nz`, `cella` = (nx, ny, nz) × pixel size.
/// - Image stack: `ispg` 0, `nz` = number of images, `mx/my` = `nx/ny` and `mz` = 1 (the MRC2014 rule for image
///   stacks), `cella` = (nx, ny, 1) × pixel size.
/// - An unknown pixel size (`nil`) writes `cella` = 0, which readers report as unset.
/// Data are x fastest, then y, then z (image after image for a stack).
public enum MRCWriter {
    /// Label written when the caller gives none.
    public static let defaultLabel = "Duet"

    /// Writes `volume` as a 3-D map (`ispg` 1).
    public static func writeVolume(_ volume: MRCVolume, to path: String, label: String = defaultLabel) throws {
        try writeVolume(nx: volume.nx, ny: volume.ny, nz: volume.nz, data: volume.data,
                        pixelSize_A: volume.pixelSize_A, to: path, label: label)
    }

    /// Writes an `nx × ny × nz` map (`ispg` 1); `data` x fastest, `nx * ny * nz` values.
    public static func writeVolume(nx: Int, ny: Int, nz: Int, data: [Float], pixelSize_A: Float?,
                                   to path: String, label: String = defaultLabel) throws {
        try check(nx: nx, ny: ny, nz: nz, count: data.count, pixelSize_A: pixelSize_A, path: path)
        var header = makeHeader(nx: nx, ny: ny, nz: nz, imageStack: false, pixelSize_A: pixelSize_A, label: label)
        try write(header: &header, path: path) { emit in
            try data.withUnsafeBufferPointer { try emit($0) }
        }
    }

    /// Writes `images.count / (nx * ny)` images of `nx × ny` as an image stack (`ispg` 0); `images` holds them one
    /// after another, each x fastest.
    public static func writeImageStack(nx: Int, ny: Int, images: [Float], pixelSize_A: Float?,
                                       to path: String, label: String = defaultLabel) throws {
        let perImage = nx * ny
        guard nx > 0, ny > 0, images.count % perImage == 0 else {
            throw DuetError("cannot write \(path): \(images.count) values is not a whole number of "
                            + "\(nx)×\(ny) images")
        }
        let count = images.count / perImage
        try writeImageStack(nx: nx, ny: ny, count: count, pixelSize_A: pixelSize_A, to: path, label: label) { i, out in
            images.withUnsafeBufferPointer { source in
                out.baseAddress!.update(from: source.baseAddress! + i * perImage, count: perImage)
            }
        }
    }

    /// Writes a stack of `count` images of `nx × ny`, asking `image(i, buffer)` to fill `buffer` (`nx * ny` floats,
    /// x fastest) with image `i` for i = 0, 1, …, so that a large stack never needs to be in memory at once.
    /// If `image` throws, no file is left behind and the error is rethrown.
    public static func writeImageStack(nx: Int, ny: Int, count: Int, pixelSize_A: Float?, to path: String,
                                       label: String = defaultLabel,
                                       image: (Int, UnsafeMutableBufferPointer<Float>) throws -> Void) throws {
        try check(nx: nx, ny: ny, nz: count, count: nx * ny * count, pixelSize_A: pixelSize_A, path: path)
        var header = makeHeader(nx: nx, ny: ny, nz: count, imageStack: true, pixelSize_A: pixelSize_A, label: label)
        var buffer = [Float](repeating: 0, count: nx * ny)
        try write(header: &header, path: path) { emit in
            for i in 0..<count {
                try buffer.withUnsafeMutableBufferPointer { try image(i, $0) }
                try buffer.withUnsafeBufferPointer { try emit($0) }
            }
        }
    }

    /// The header `MRCWriter` writes for a volume (`imageStack` false) or an image stack, before the data statistics
    /// are filled in (they are marked undetermined here).
    public static func makeHeader(nx: Int, ny: Int, nz: Int, imageStack: Bool, pixelSize_A: Float?,
                                  label: String = defaultLabel) -> MRCHeader {
        var header = MRCHeader(nx: nx, ny: ny, nz: nz)
        header.mz = imageStack ? 1 : nz
        header.ispg = imageStack ? 0 : 1
        let pixel = pixelSize_A ?? 0
        header.cellLengths_A = SIMD3(Float(header.mx) * pixel, Float(header.my) * pixel, Float(header.mz) * pixel)
        let cleaned = label.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 ? Character($0) : "?" }
        header.labels = [String(String(cleaned).prefix(80))]
        return header
    }

    // MARK: Internals

    private static func check(nx: Int, ny: Int, nz: Int, count: Int, pixelSize_A: Float?, path: String) throws {
        let limit = Int(Int32.max)
        guard nx > 0, ny > 0, nz > 0, nx <= limit, ny <= limit, nz <= limit else {
            throw DuetError("cannot write \(path): dimensions \(nx)×\(ny)×\(nz) must be positive and fit in 32 bits")
        }
        guard count == nx * ny * nz else {
            throw DuetError("cannot write \(path): \(count) values given for \(nx)×\(ny)×\(nz)")
        }
        if let pixel = pixelSize_A, !(pixel.isFinite && pixel > 0) {
            throw DuetError("cannot write \(path): pixel size \(pixel) Å must be positive (or nil for unknown)")
        }
    }

    /// Streams the header (placeholder first), the data handed to `emit` by `produce`, and finally the header again
    /// with the statistics of the data, all through `AtomicFile`.
    private static func write(header: inout MRCHeader, path: String,
                              produce: ((UnsafeBufferPointer<Float>) throws -> Void) throws -> Void) throws {
        var stats = Statistics()
        var chunk = [UInt8]()
        var final = header
        try AtomicFile.write(to: path) { handle in
            try handle.write(contentsOf: header.serialised())
            try produce { values in
                stats.add(values)
                littleEndianBytes(values, into: &chunk)
                try handle.write(contentsOf: chunk)
            }
            stats.fill(&final)
            try handle.seek(toOffset: 0)
            try handle.write(contentsOf: final.serialised())
        }
        header = final
    }

    /// Little-endian float32 bytes of `values`, reusing `bytes`.
    private static func littleEndianBytes(_ values: UnsafeBufferPointer<Float>, into bytes: inout [UInt8]) {
        let count = values.count * 4
        if bytes.count != count { bytes = [UInt8](repeating: 0, count: count) }
        bytes.withUnsafeMutableBytes { out in
            if 1.littleEndian == 1 {
                out.copyMemory(from: UnsafeRawBufferPointer(values))
            } else {
                for (i, v) in values.enumerated() {
                    out.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
                }
            }
        }
    }

    /// Running min, max, mean and standard deviation; sums in Double, shifted by the first value for accuracy.
    private struct Statistics {
        var count = 0
        var minimum = Float.infinity
        var maximum = -Float.infinity
        var shift = 0.0
        var sum = 0.0
        var sumSquares = 0.0

        mutating func add(_ values: UnsafeBufferPointer<Float>) {
            guard !values.isEmpty else { return }
            if count == 0 { shift = Double(values[0]) }
            var lo = minimum, hi = maximum, s = 0.0, s2 = 0.0
            for v in values {
                lo = Swift.min(lo, v)
                hi = Swift.max(hi, v)
                let d = Double(v) - shift
                s += d
                s2 += d * d
            }
            minimum = lo
            maximum = hi
            sum += s
            sumSquares += s2
            count += values.count
        }

        func fill(_ header: inout MRCHeader) {
            guard count > 0 else { return }
            let n = Double(count)
            let meanShifted = sum / n
            header.dmin = minimum
            header.dmax = maximum
            header.dmean = Float(shift + meanShifted)
            header.rms = Float(Swift.max(sumSquares / n - meanShifted * meanShifted, 0).squareRoot())
        }
    }
}
