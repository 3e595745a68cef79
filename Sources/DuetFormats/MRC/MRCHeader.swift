import DuetCore

/// Byte order of an MRC file (header and data use the same one).
public enum MRCByteOrder: Sendable, Equatable, CustomStringConvertible {
    /// Little-endian; machine stamp `0x44 0x44 0 0` (or `0x44 0x41 0 0`).
    case littleEndian
    /// Big-endian; machine stamp `0x11 0x11 0 0`.
    case bigEndian

    /// The MRC2014 machine stamp for this byte order.
    public var machineStamp: [UInt8] {
        switch self {
        case .littleEndian: return [0x44, 0x44, 0, 0]
        case .bigEndian: return [0x11, 0x11, 0, 0]
        }
    }

    /// "little-endian" or "big-endian".
    public var description: String { self == .littleEndian ? "little-endian" : "big-endian" }
}

/// The 1024-byte MRC2014 header as a value (see https://www.ccpem.ac.uk/mrc_format/mrc2014.php).
///
/// Conventions:
/// - Field names follow the MRC2014 specification; integer fields are stored as `Int` (they are 32-bit on disk).
/// - `nx`/`ny`/`nz` count columns, rows and sections *in file order*; `mapc`/`mapr`/`maps` say which physical
///   axis (1 = x, 2 = y, 3 = z) the columns, rows and sections run along. `cellLengths_A` and `mx`/`my`/`mz` are
///   per physical axis, so the voxel size along x is `cellLengths_A.x / mx` (`pixelSize_A`).
/// - Four-byte identifiers (`mapID`, `machineStamp`, `exttyp`) are kept as raw bytes so that files which leave them
///   zero (several real ones do) are represented faithfully; `hasMapID` and `exttypString` interpret them.
/// - `byteOrder` is the order the header was read in (and is written in by `serialised()`); it is detected from
///   the machine stamp, or, when the stamp is zero or invalid, from which order gives a sane mode and dimensions.
/// - `nsymbt` is the length in bytes of the extended header that follows the 1024 bytes; data start after it.
/// - Bytes 96..<196 other than `exttyp` and `nversion` are kept verbatim in `extra1` (8 bytes) and `extra2`
///   (84 bytes) so that parsing then serialising keeps them.
/// - `labels` holds the first `nlabl` labels (at most 10, each at most 80 ASCII bytes), trailing blanks removed;
///   `serialised()` writes `nlabl = labels.count`.
public struct MRCHeader: Sendable, Equatable {
    /// Size of the main header in bytes.
    public static let byteCount = 1024
    /// Modes Duet can read: 0 (int8, signed), 1 (int16), 2 (float32), 6 (uint16), 12 (float16).
    public static let supportedModes: [Int] = [0, 1, 2, 6, 12]

    /// Columns (fastest axis in the file).
    public var nx: Int
    /// Rows.
    public var ny: Int
    /// Sections (slowest axis in the file; the number of images of a stack).
    public var nz: Int
    /// Data type: 0 int8 (signed), 1 int16, 2 float32, 3 complex int16, 4 complex float32, 6 uint16,
    /// 12 float16, 16 rgb8, 101 4-bit.
    public var mode: Int
    /// Index of the first column, row and section in the unit cell (often 0; EMD-3001 has 0, -21, -12).
    public var nxstart: Int
    public var nystart: Int
    public var nzstart: Int
    /// Sampling along the physical x, y, z axes of the unit cell.
    public var mx: Int
    public var my: Int
    public var mz: Int
    /// Cell lengths along physical x, y, z in Å (`cella`).
    public var cellLengths_A: SIMD3<Float>
    /// Cell angles alpha, beta, gamma in degrees (`cellb`).
    public var cellAngles_deg: SIMD3<Float>
    /// Physical axis (1, 2, 3 = x, y, z) of the columns, rows and sections.
    public var mapc: Int
    public var mapr: Int
    public var maps: Int
    /// Minimum, maximum and mean of the data; `dmax < dmin` and `dmean` below both mean "not determined".
    public var dmin: Float
    public var dmax: Float
    public var dmean: Float
    /// Space group; 0 for images and image stacks, 1 for a single volume, 401–630 for volume stacks.
    public var ispg: Int
    /// Length of the extended header in bytes.
    public var nsymbt: Int
    /// Header bytes 96..<104 (extra space), kept verbatim.
    public var extra1: [UInt8]
    /// Extended header type, 4 raw bytes (e.g. "FEI1", "CCP4"), zero when unset.
    public var exttyp: [UInt8]
    /// MRC format version (20140 for MRC2014; 0 in older files).
    public var nversion: Int
    /// Header bytes 112..<196 (extra space), kept verbatim.
    public var extra2: [UInt8]
    /// Origin in Å (MRC2014 words 50–52).
    public var origin_A: SIMD3<Float>
    /// The 4 bytes at offset 208; "MAP " in a conforming file.
    public var mapID: [UInt8]
    /// The 4 bytes at offset 212 as found (not necessarily consistent with `byteOrder`).
    public var machineStamp: [UInt8]
    /// RMS deviation of the data from their mean; negative means "not determined".
    public var rms: Float
    /// Text labels (at most 10, each at most 80 ASCII bytes).
    public var labels: [String]
    /// Byte order of the header and data.
    public var byteOrder: MRCByteOrder

    /// A header with the MRC2014 defaults for a little-endian float32 map of the given size: mode 2, mx/my/mz =
    /// nx/ny/nz, cell angles 90°, axis order 1 2 3, "MAP " id, machine stamp 0x44 0x44 0 0, nversion 20140,
    /// ispg 1, statistics marked undetermined (dmin > dmax, dmean < both, rms -1), no labels.
    public init(nx: Int, ny: Int, nz: Int) {
        self.nx = nx
        self.ny = ny
        self.nz = nz
        mode = 2
        nxstart = 0
        nystart = 0
        nzstart = 0
        mx = nx
        my = ny
        mz = nz
        cellLengths_A = .zero
        cellAngles_deg = SIMD3(90, 90, 90)
        mapc = 1
        mapr = 2
        maps = 3
        dmin = 0
        dmax = -1
        dmean = -2
        ispg = 1
        nsymbt = 0
        extra1 = [UInt8](repeating: 0, count: 8)
        exttyp = [0, 0, 0, 0]
        nversion = 20140
        extra2 = [UInt8](repeating: 0, count: 84)
        origin_A = .zero
        mapID = Array("MAP ".utf8)
        machineStamp = MRCByteOrder.littleEndian.machineStamp
        rms = -1
        labels = []
        byteOrder = .littleEndian
    }

    /// Voxel size in Å along x, `cellLengths_A.x / mx`, or `nil` when unset (cell length or `mx` zero, or the
    /// result not a positive finite number).
    public var pixelSize_A: Float? {
        guard mx > 0, cellLengths_A.x > 0 else { return nil }
        let size = cellLengths_A.x / Float(mx)
        return size.isFinite && size > 0 ? size : nil
    }

    /// Whether the header carries the "MAP " identifier.
    public var hasMapID: Bool { mapID == Array("MAP ".utf8) }

    /// `exttyp` as text, with trailing NULs and spaces removed ("" when unset).
    public var exttypString: String { Self.text(exttyp) }

    /// Bytes per voxel for `mode`, or `nil` for a mode Duet cannot read.
    public var bytesPerVoxel: Int? {
        switch mode {
        case 0: return 1
        case 1, 6, 12: return 2
        case 2: return 4
        default: return nil
        }
    }

    /// Whether `mapc`, `mapr`, `maps` are a permutation of 1, 2, 3.
    public var hasValidAxisOrder: Bool { Set([mapc, mapr, maps]) == Set([1, 2, 3]) }

    /// Human-readable name of an MRC mode, for messages.
    public static func modeName(_ mode: Int) -> String {
        switch mode {
        case 0: return "int8"
        case 1: return "int16"
        case 2: return "float32"
        case 3: return "complex int16"
        case 4: return "complex float32"
        case 6: return "uint16"
        case 12: return "float16"
        case 16: return "rgb8"
        case 101: return "4-bit"
        default: return "unknown"
        }
    }

    // MARK: Parsing

    /// Parses the first 1024 bytes of `bytes` (more may be given and are ignored). `source` names the file in
    /// error messages. Throws `DuetError` when there are fewer than 1024 bytes or neither byte order gives a
    /// plausible header (mode 0...16 or 101, dimensions 1...2^28, `nsymbt` ≥ 0).
    public init(parsing bytes: [UInt8], source: String = "MRC header") throws {
        guard bytes.count >= Self.byteCount else {
            throw DuetError("\(source) is not an MRC file: \(bytes.count) bytes, shorter than the 1024-byte header")
        }
        guard let order = Self.detectByteOrder(bytes) else {
            throw DuetError("\(source) is not an MRC file: no plausible mode and dimensions in either byte order")
        }
        let r = Reader(bytes: bytes, order: order)
        nx = r.int(0)
        ny = r.int(4)
        nz = r.int(8)
        mode = r.int(12)
        nxstart = r.int(16)
        nystart = r.int(20)
        nzstart = r.int(24)
        mx = r.int(28)
        my = r.int(32)
        mz = r.int(36)
        cellLengths_A = SIMD3(r.float(40), r.float(44), r.float(48))
        cellAngles_deg = SIMD3(r.float(52), r.float(56), r.float(60))
        mapc = r.int(64)
        mapr = r.int(68)
        maps = r.int(72)
        dmin = r.float(76)
        dmax = r.float(80)
        dmean = r.float(84)
        ispg = r.int(88)
        nsymbt = r.int(92)
        extra1 = Array(bytes[96..<104])
        exttyp = Array(bytes[104..<108])
        nversion = r.int(108)
        extra2 = Array(bytes[112..<196])
        origin_A = SIMD3(r.float(196), r.float(200), r.float(204))
        mapID = Array(bytes[208..<212])
        machineStamp = Array(bytes[212..<216])
        rms = r.float(216)
        let count = min(max(r.int(220), 0), 10)
        labels = (0..<count).map { i in Self.text(Array(bytes[(224 + 80 * i)..<(224 + 80 * (i + 1))])) }
        byteOrder = order
    }

    /// The byte order of a raw header: from the machine stamp when it is a valid one and gives a plausible header,
    /// otherwise the first of little-endian, big-endian that gives a plausible mode and dimensions; `nil` if neither.
    public static func detectByteOrder(_ bytes: [UInt8]) -> MRCByteOrder? {
        guard bytes.count >= byteCount else { return nil }
        let stamped: MRCByteOrder?
        if bytes[212] == 0x44 && (bytes[213] == 0x44 || bytes[213] == 0x41) {
            stamped = .littleEndian
        } else if bytes[212] == 0x11 && bytes[213] == 0x11 {
            stamped = .bigEndian
        } else {
            stamped = nil
        }
        if let stamped, isPlausible(bytes, stamped) { return stamped }
        for order in [MRCByteOrder.littleEndian, .bigEndian] where isPlausible(bytes, order) { return order }
        return nil
    }

    private static func isPlausible(_ bytes: [UInt8], _ order: MRCByteOrder) -> Bool {
        let r = Reader(bytes: bytes, order: order)
        let mode = r.int(12)
        guard (0...16).contains(mode) || mode == 101 else { return false }
        let limit = 1 << 28
        for offset in [0, 4, 8] where !(1...limit).contains(r.int(offset)) { return false }
        return r.int(92) >= 0
    }

    private static func text(_ raw: [UInt8]) -> String {
        var end = raw.count
        while end > 0 && (raw[end - 1] == 0 || raw[end - 1] == 0x20) { end -= 1 }
        return String(decoding: raw[0..<end].map { $0 < 0x80 ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
    }

    private struct Reader {
        let bytes: [UInt8]
        let order: MRCByteOrder

        func u32(_ offset: Int) -> UInt32 {
            let b0 = UInt32(bytes[offset]), b1 = UInt32(bytes[offset + 1])
            let b2 = UInt32(bytes[offset + 2]), b3 = UInt32(bytes[offset + 3])
            switch order {
            case .littleEndian: return b0 | b1 << 8 | b2 << 16 | b3 << 24
            case .bigEndian: return b3 | b2 << 8 | b1 << 16 | b0 << 24
            }
        }

        func int(_ offset: Int) -> Int { Int(Int32(bitPattern: u32(offset))) }
        func float(_ offset: Int) -> Float { Float(bitPattern: u32(offset)) }
    }

    // MARK: Serialising

    /// The 1024 header bytes in `byteOrder`. Integer fields must fit in 32 bits (they are clamped otherwise);
    /// the four-byte identifiers are written as stored (padded or cut to 4 bytes), labels as 80 bytes each padded
    /// with spaces (non-ASCII bytes replaced by "?", cut at 80 bytes), `nlabl = min(labels.count, 10)`.
    public func serialised() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Self.byteCount)
        func put(_ value: UInt32, _ offset: Int) {
            for i in 0..<4 {
                let shift = byteOrder == .littleEndian ? 8 * i : 8 * (3 - i)
                out[offset + i] = UInt8(truncatingIfNeeded: value >> UInt32(shift))
            }
        }
        func int(_ value: Int, _ offset: Int) { put(UInt32(bitPattern: Int32(clamping: value)), offset) }
        func float(_ value: Float, _ offset: Int) { put(value.bitPattern, offset) }
        func raw(_ value: [UInt8], _ offset: Int, _ length: Int) {
            for i in 0..<min(value.count, length) { out[offset + i] = value[i] }
        }
        int(nx, 0); int(ny, 4); int(nz, 8); int(mode, 12)
        int(nxstart, 16); int(nystart, 20); int(nzstart, 24)
        int(mx, 28); int(my, 32); int(mz, 36)
        float(cellLengths_A.x, 40); float(cellLengths_A.y, 44); float(cellLengths_A.z, 48)
        float(cellAngles_deg.x, 52); float(cellAngles_deg.y, 56); float(cellAngles_deg.z, 60)
        int(mapc, 64); int(mapr, 68); int(maps, 72)
        float(dmin, 76); float(dmax, 80); float(dmean, 84)
        int(ispg, 88); int(nsymbt, 92)
        raw(extra1, 96, 8)
        raw(exttyp, 104, 4)
        int(nversion, 108)
        raw(extra2, 112, 84)
        float(origin_A.x, 196); float(origin_A.y, 200); float(origin_A.z, 204)
        raw(mapID, 208, 4)
        raw(machineStamp, 212, 4)
        float(rms, 216)
        let count = min(labels.count, 10)
        int(count, 220)
        for i in 0..<count {
            let text = labels[i].utf8.map { $0 < 0x80 ? $0 : UInt8(ascii: "?") }
            var field = [UInt8](repeating: 0x20, count: 80)
            for j in 0..<min(text.count, 80) { field[j] = text[j] }
            raw(field, 224 + 80 * i, 80)
        }
        return out
    }
}
