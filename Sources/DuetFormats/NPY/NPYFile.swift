import DuetCore
import Foundation

/// Reads and writes NumPy `.npy` files, the format of CryoSPARC `.cs` particle tables.
///
/// Conventions:
/// - Reading accepts format versions 1.0, 2.0 and 3.0, structured (`.cs`) and plain arrays, any byte order; the
///   data are read with one bulk read into one buffer (no per-record work). Bytes after the array are ignored.
/// - `fortran_order: True` is refused for structured arrays (a `.cs` file never has it); a plain array stored in
///   Fortran order is transposed to C order on read (so `NPYArray.values` are always C order).
/// - Writing produces version 1.0 — or 2.0 when the header would exceed 65535 bytes, 3.0 when a field name is not
///   latin-1 — with the header padded by spaces to make the data start at a multiple of 64 bytes and ending in
///   `\n`, exactly as `numpy.save` does; the file is replaced atomically (`AtomicFile`).
/// - Errors are one-line `DuetError`s naming the path: not an npy file, truncated header or data, unsupported
///   dtype (naming the field), Fortran-ordered structured data.
public enum NPYFile {
    /// Reads an `.npy` / `.cs` file. The array's `source` is `path`, so later errors name the file.
    public static func read(path: String) throws -> NPYStructuredArray {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw DuetError("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw DuetError("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        let fileSize = Int(info.st_size)

        // Magic, version and header length first, then the header, then the data straight into their buffer.
        var prefix = [UInt8](repeating: 0, count: min(12, fileSize))
        try readFully(fd, into: &prefix, at: 0, count: prefix.count, path: path)
        guard prefix.count >= 8, Array(prefix[0..<6]) == NPYHeader.magic else {
            throw DuetError("not an npy file: \(path) (no \\x93NUMPY magic)")
        }
        let lengthBytes = prefix[6] == 1 ? 2 : 4
        guard prefix.count >= 8 + lengthBytes else { throw DuetError("truncated npy header in \(path)") }
        var headerLength = 0
        for i in 0..<lengthBytes { headerLength |= Int(prefix[8 + i]) << (8 * i) }
        let headerEnd = 8 + lengthBytes + headerLength
        guard headerEnd <= fileSize else {
            throw DuetError("truncated npy header in \(path): header says \(headerLength) bytes, file has \(fileSize - 8 - lengthBytes)")
        }
        var headerBytes = [UInt8](repeating: 0, count: headerEnd)
        try readFully(fd, into: &headerBytes, at: 0, count: headerEnd, path: path)
        let (header, dataOffset) = try headerBytes.withUnsafeBytes { try NPYHeader.parse($0, source: path) }

        let records = header.recordCount
        let (needed, overflow) = records.multipliedReportingOverflow(by: header.itemSize)
        guard !overflow else { throw DuetError("npy header of \(path) describes an impossibly large array") }
        let available = fileSize - dataOffset
        guard available >= needed else {
            throw DuetError("truncated data in \(path): \(available) bytes after the header, shape \(tupleRepr(header.shape)) of \(header.itemSize)-byte items needs \(needed)")
        }
        // One bulk read straight into the records buffer (not zero-filled first: every byte is overwritten).
        let data = try [UInt8](unsafeUninitializedCapacity: needed) { buffer, initialized in
            try readFully(fd, into: UnsafeMutableRawBufferPointer(buffer), at: dataOffset, count: needed, path: path)
            initialized = needed
        }
        return try assemble(header, data: data, source: path)
    }

    /// Parses a complete `.npy` image held in memory; `source` names it in errors.
    public static func decode(_ bytes: [UInt8], source: String) throws -> NPYStructuredArray {
        let (header, dataOffset) = try bytes.withUnsafeBytes { try NPYHeader.parse($0, source: source) }
        let needed = header.recordCount * header.itemSize
        let available = bytes.count - dataOffset
        guard available >= needed else {
            throw DuetError("truncated data in \(source): \(available) bytes after the header, shape \(tupleRepr(header.shape)) of \(header.itemSize)-byte items needs \(needed)")
        }
        return try assemble(header, data: Array(bytes[dataOffset..<(dataOffset + needed)]), source: source)
    }

    /// Reads only the header of a file (fields, shape, version).
    public static func readHeader(path: String) throws -> NPYHeader {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw DuetError("cannot open \(path)") }
        defer { try? handle.close() }
        let prefix = [UInt8](handle.readData(ofLength: 12))
        guard prefix.count >= 10, Array(prefix[0..<6]) == NPYHeader.magic else {
            throw DuetError("not an npy file: \(path) (no \\x93NUMPY magic)")
        }
        let lengthBytes = prefix[6] == 1 ? 2 : 4
        var length = 0
        for i in 0..<min(lengthBytes, prefix.count - 8) { length |= Int(prefix[8 + i]) << (8 * i) }
        try handle.seek(toOffset: 0)
        let all = [UInt8](handle.readData(ofLength: 8 + lengthBytes + length))
        return try all.withUnsafeBytes { try NPYHeader.parse($0, source: path).0 }
    }

    /// Reads a plain numeric array (e.g. cryoDRGN poses, a volume) as C-ordered Doubles.
    public static func readArray(path: String) throws -> NPYArray {
        try NPYArray(read(path: path))
    }

    /// The bytes of an `.npy` file holding `array` (header + records).
    public static func encode(_ array: NPYStructuredArray) -> [UInt8] {
        header(for: array).encoded().bytes + array.bytes
    }

    /// Writes `array` to `path` atomically, as NumPy would (see the type's conventions).
    public static func write(_ array: NPYStructuredArray, to path: String) throws {
        let head = header(for: array).encoded().bytes
        try AtomicFile.write(to: path) { handle in
            try handle.write(contentsOf: head)
            if !array.bytes.isEmpty { try handle.write(contentsOf: array.bytes) }
        }
    }

    /// Writes a plain numeric array with its `dtype` to `path` atomically.
    public static func write(_ array: NPYArray, to path: String) throws {
        try write(array.structured(source: path), to: path)
    }

    // MARK: - Internals

    static func header(for array: NPYStructuredArray) -> NPYHeader {
        NPYHeader(isStructured: array.isStructured, fields: array.fields, itemSize: array.itemSize,
                  fortranOrder: false, shape: array.arrayShape)
    }

    private static func assemble(_ header: NPYHeader, data: [UInt8], source: String) throws -> NPYStructuredArray {
        var data = data
        if header.fortranOrder {
            guard !header.isStructured else {
                throw DuetError("fortran_order True is not supported for the structured array in \(source)")
            }
            data = transposeFortran(data, shape: header.shape, elementSize: header.fields[0].dtype.size)
        }
        let shape = header.isStructured ? header.shape : Array(header.shape.prefix(1))
        return try NPYStructuredArray(fields: header.fields, itemSize: header.itemSize, count: header.recordCount,
                                      shape: shape, isStructured: header.isStructured, bytes: data, source: source)
    }

    /// Reorders elements stored column-major (first index fastest) into row-major order.
    static func transposeFortran(_ data: [UInt8], shape: [Int], elementSize: Int) -> [UInt8] {
        let total = shape.reduce(1, *)
        guard shape.count > 1, total > 0, elementSize > 0 else { return data }
        // Byte stride of each dimension in the Fortran layout.
        var strides = [Int](repeating: 0, count: shape.count)
        var s = elementSize
        for d in 0..<shape.count { strides[d] = s; s *= shape[d] }
        var out = [UInt8](repeating: 0, count: data.count)
        data.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                var counter = [Int](repeating: 0, count: shape.count)
                var from = 0
                let last = shape.count - 1
                for k in 0..<total {
                    (dst.baseAddress! + k * elementSize).copyMemory(from: src.baseAddress! + from,
                                                                    byteCount: elementSize)
                    var d = last
                    while d >= 0 {
                        counter[d] += 1
                        from += strides[d]
                        if counter[d] < shape[d] { break }
                        from -= strides[d] * shape[d]
                        counter[d] = 0
                        d -= 1
                    }
                }
            }
        }
        return out
    }

    private static func readFully(_ fd: Int32, into buffer: inout [UInt8], at offset: Int, count: Int,
                                  path: String) throws {
        try buffer.withUnsafeMutableBytes { try readFully(fd, into: $0, at: offset, count: count, path: path) }
    }

    private static func readFully(_ fd: Int32, into raw: UnsafeMutableRawBufferPointer, at offset: Int, count: Int,
                                  path: String) throws {
        guard count > 0, let base = raw.baseAddress else { return }
        var done = 0
        while done < count {
            let n = pread(fd, base + done, count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw DuetError("cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { throw DuetError("truncated data in \(path): file ended early") }
            done += n
        }
    }
}
