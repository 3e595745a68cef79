import DuetCore
import Foundation

/// An in-memory NumPy structured array: what a CryoSPARC `.cs` file holds (one record per particle).
///
/// Conventions:
/// - `count` records of `itemSize` bytes each are stored back to back in `bytes`, exactly as in the file (row
///   major, file byte order kept: big-endian fields are swapped on access, never in storage), so fields Duet does
///   not know survive a read → write untouched, byte for byte.
/// - A field may be a sub-array (`shape` non-empty, e.g. `blob/shape` `(2,)`, `alignments3D/pose` `(3,)`); its
///   elements are addressed by a flat row-major `element` index, `0..<field.elementCount`. Bulk getters return
///   `count · elementCount` values, record after record, element after element.
/// - Numeric getters convert any numeric type (bool reads as 0/1); integer getters refuse floats; string getters
///   read `|Sn` byte strings as UTF-8 with trailing NULs stripped (as NumPy does) and `<Un` as UTF-32.
/// - Setters check: a string longer than the field's `n` bytes, a float stored into an integer field that is not
///   an integer, or a value out of the field type's range throw. Floats are rounded to the nearest representable.
/// - A plain (non-structured) array `'<f4'` of shape `(N, a, b)` reads as `isStructured == false` with one
///   unnamed field `""` of sub-shape `[a, b]` and `count == N` (a 0-d array has one record). See `NPYArray`.
/// - Every error is a one-line `DuetError` naming `source` (the file path, or a label) and the field.
public struct NPYStructuredArray: Sendable, Equatable {
    /// The fields of one record, in order, with their byte offsets.
    public private(set) var fields: [NPYField]
    /// Number of records (rows).
    public private(set) var count: Int
    /// Bytes per record, padding included.
    public private(set) var itemSize: Int
    /// The records, `count · itemSize` bytes, in file byte order.
    public private(set) var bytes: [UInt8]
    /// Whether this is a structured array (named fields) rather than a plain typed array.
    public private(set) var isStructured: Bool
    /// Shape of the array of records: `[count]` for a `.cs` file; for a plain array, the leading dimension
    /// (`[]` for 0-d). `shape.reduce(1, *) == count`.
    public private(set) var shape: [Int]
    /// Name used in error messages, normally the path the array was read from.
    public var source: String
    private var index: [String: Int]

    /// A zero-filled structured array with `count` records of the given fields, packed in the given order (each
    /// offset is the sum of the previous sizes; the fields' own `offset`s are ignored). Throws on duplicate names.
    public init(fields: [NPYField], count: Int, source: String = "array") throws {
        guard count >= 0 else { throw DuetError("negative record count \(count) for \(source)") }
        var placed: [NPYField] = []
        var offset = 0
        for f in fields {
            placed.append(NPYField(name: f.name, dtype: f.dtype, shape: f.shape, offset: offset))
            offset += f.itemSize
        }
        try self.init(fields: placed, itemSize: offset, count: count, shape: [count], isStructured: true,
                      bytes: [UInt8](repeating: 0, count: offset * count), source: source)
    }

    /// Wraps raw records. `bytes.count` must be `count · itemSize`; fields must lie inside the record.
    init(fields: [NPYField], itemSize: Int, count: Int, shape: [Int], isStructured: Bool, bytes: [UInt8],
         source: String) throws {
        var index: [String: Int] = [:]
        for (i, f) in fields.enumerated() {
            guard index.updateValue(i, forKey: f.name) == nil else {
                throw DuetError("duplicate field '\(f.name)' in \(source)")
            }
            guard f.offset >= 0, f.offset + f.itemSize <= itemSize, f.shape.allSatisfy({ $0 >= 0 }) else {
                throw DuetError("field '\(f.name)' does not fit in a \(itemSize)-byte record in \(source)")
            }
        }
        guard bytes.count == count * itemSize else {
            throw DuetError("\(source): \(bytes.count) bytes of data for \(count) records of \(itemSize) bytes")
        }
        self.fields = fields
        self.itemSize = itemSize
        self.count = count
        self.shape = shape
        self.isStructured = isStructured
        self.bytes = bytes
        self.source = source
        self.index = index
    }

    /// Equal layout and bytes (`source` is ignored).
    public static func == (a: NPYStructuredArray, b: NPYStructuredArray) -> Bool {
        a.fields == b.fields && a.count == b.count && a.itemSize == b.itemSize && a.isStructured == b.isStructured
            && a.shape == b.shape && a.bytes == b.bytes
    }

    /// The full NumPy shape: `shape` for a structured array, `shape + field.shape` for a plain one.
    public var arrayShape: [Int] { isStructured ? shape : shape + (fields.first?.shape ?? []) }

    /// Field names in order.
    public var fieldNames: [String] { fields.map(\.name) }

    /// Whether a field of that name exists.
    public func contains(_ name: String) -> Bool { index[name] != nil }

    /// The field of that name; throws `field 'x' not in <source>`.
    public func field(_ name: String) throws -> NPYField {
        guard let i = index[name] else { throw DuetError("field '\(name)' not in \(source)") }
        return fields[i]
    }

    // MARK: - Single values

    /// The value of a numeric field as a Double (any integer, float or bool type converted).
    public func double(_ name: String, row: Int, element: Int = 0) throws -> Double {
        let (f, at) = try locate(name, row: row, element: element)
        let code = try numericCode(f)
        let swap = f.dtype.bigEndian != NPYDType.hostIsBigEndian
        return bytes.withUnsafeBytes { NPYScalarIO.loadDouble($0.baseAddress! + at, code, swap) }
    }

    /// The value of an integer or bool field as an Int; throws for float fields and for uint64 values above
    /// `Int.max`.
    public func int(_ name: String, row: Int, element: Int = 0) throws -> Int {
        let (f, at) = try locate(name, row: row, element: element)
        let code = try integerCode(f)
        let swap = f.dtype.bigEndian != NPYDType.hostIsBigEndian
        let v = bytes.withUnsafeBytes { NPYScalarIO.loadInteger($0.baseAddress! + at, code, swap) }
        return try intValue(v, f, row: row)
    }

    /// The value of an integer or bool field as a UInt64 (CryoSPARC `uid`); throws for negative values.
    public func uint64(_ name: String, row: Int, element: Int = 0) throws -> UInt64 {
        let (f, at) = try locate(name, row: row, element: element)
        let code = try integerCode(f)
        let swap = f.dtype.bigEndian != NPYDType.hostIsBigEndian
        let v = bytes.withUnsafeBytes { NPYScalarIO.loadInteger($0.baseAddress! + at, code, swap) }
        return try uint64Value(v, f, row: row)
    }

    /// The value of a string field: `|Sn` decoded as UTF-8 with trailing NULs stripped, `<Un` as UTF-32.
    public func string(_ name: String, row: Int, element: Int = 0) throws -> String {
        let (f, at) = try locate(name, row: row, element: element)
        try requireString(f)
        return bytes.withUnsafeBytes { NPYScalarIO.loadString(UnsafeRawBufferPointer(rebasing: $0[at..<(at + f.dtype.size)]), f.dtype) }
    }

    // MARK: - Columns

    /// All values of a numeric field as Doubles: `count · elementCount` values, record-major.
    public func doubles(_ name: String) throws -> [Double] {
        let f = try field(name)
        let code = try numericCode(f)
        let swap = f.dtype.bigEndian != NPYDType.hostIsBigEndian
        return gather(f) { NPYScalarIO.loadDouble($0, code, swap) }
    }

    /// All values of a numeric field as Floats (converted, rounding doubles), record-major.
    public func floats(_ name: String) throws -> [Float] {
        let f = try field(name)
        let code = try numericCode(f)
        let swap = f.dtype.bigEndian != NPYDType.hostIsBigEndian
        if code == .f4 && !swap {
            return gather(f) { $0.loadUnaligned(as: Float.self) }
        }
        return gather(f) { Float(NPYScalarIO.loadDouble($0, code, swap)) }
    }

    /// All values of an integer or bool field as Ints, record-major; throws for float fields and for uint64 values
    /// above `Int.max`.
    public func ints(_ name: String) throws -> [Int] {
        let f = try field(name)
        let code = try integerCode(f)
        let swap = f.dtype.bigEndian != NPYDType.hostIsBigEndian
        var bad: Int?
        let values: [Int] = gather(f) { p in
            switch NPYScalarIO.loadInteger(p, code, swap) {
            case .signed(let v): return Int(v)
            case .unsigned(let v):
                if let i = Int(exactly: v) { return i }
                bad = bad ?? Int(truncatingIfNeeded: v)
                return 0
            }
        }
        if bad != nil { throw DuetError("field '\(name)' in \(source) holds a value above Int.max; read it with uint64s") }
        return values
    }

    /// All values of an integer or bool field as UInt64s, record-major; throws for negative values.
    public func uint64s(_ name: String) throws -> [UInt64] {
        let f = try field(name)
        let code = try integerCode(f)
        let swap = f.dtype.bigEndian != NPYDType.hostIsBigEndian
        var negative = false
        let values: [UInt64] = gather(f) { p in
            switch NPYScalarIO.loadInteger(p, code, swap) {
            case .unsigned(let v): return v
            case .signed(let v):
                if v < 0 { negative = true; return 0 }
                return UInt64(v)
            }
        }
        if negative { throw DuetError("field '\(name)' in \(source) holds negative values; read it with ints") }
        return values
    }

    /// All values of a string field, record-major.
    public func strings(_ name: String) throws -> [String] {
        let f = try field(name)
        try requireString(f)
        let size = f.dtype.size
        return gather(f) { NPYScalarIO.loadString(UnsafeRawBufferPointer(start: $0, count: size), f.dtype) }
    }

    // MARK: - Setting values

    /// Stores a number in a numeric field. Integer fields need an integral value in range; bool stores `value != 0`.
    public mutating func setDouble(_ name: String, row: Int, element: Int = 0, to value: Double) throws {
        let (f, at) = try locate(name, row: row, element: element)
        let code = try numericCode(f)
        let swap = f.dtype.bigEndian != NPYDType.hostIsBigEndian
        let ok = bytes.withUnsafeMutableBytes { NPYScalarIO.storeDouble($0.baseAddress! + at, code, swap, value) }
        if !ok { throw rangeError(f, "\(value)") }
    }

    /// Stores an integer in a numeric field (converted to float for float fields); throws when out of range.
    public mutating func setInt(_ name: String, row: Int, element: Int = 0, to value: Int) throws {
        let (f, at) = try locate(name, row: row, element: element)
        let code = try numericCode(f)
        let swap = f.dtype.bigEndian != NPYDType.hostIsBigEndian
        let ok = bytes.withUnsafeMutableBytes {
            NPYScalarIO.storeInteger($0.baseAddress! + at, code, swap, .signed(Int64(value)))
        }
        if !ok { throw rangeError(f, "\(value)") }
    }

    /// Stores an unsigned 64-bit integer (e.g. a CryoSPARC `uid`); throws when out of the field's range.
    public mutating func setUInt64(_ name: String, row: Int, element: Int = 0, to value: UInt64) throws {
        let (f, at) = try locate(name, row: row, element: element)
        let code = try numericCode(f)
        let swap = f.dtype.bigEndian != NPYDType.hostIsBigEndian
        let ok = bytes.withUnsafeMutableBytes {
            NPYScalarIO.storeInteger($0.baseAddress! + at, code, swap, .unsigned(value))
        }
        if !ok { throw rangeError(f, "\(value)") }
    }

    /// Stores a string: UTF-8 bytes NUL padded for `|Sn` (throws if longer than n bytes), UTF-32 for `<Un`.
    public mutating func setString(_ name: String, row: Int, element: Int = 0, to value: String) throws {
        let (f, at) = try locate(name, row: row, element: element)
        try requireString(f)
        let encoded = try encodeString(value, f)
        bytes.replaceSubrange(at..<(at + encoded.count), with: encoded)
    }

    /// Stores a whole numeric column; `values.count` must be `count · elementCount`.
    public mutating func setDoubles(_ name: String, to values: [Double]) throws {
        let f = try field(name)
        let code = try numericCode(f)
        try requireCount(values.count, f)
        let swap = f.dtype.bigEndian != NPYDType.hostIsBigEndian
        var failed: Double?
        scatter(f) { p, i in
            if !NPYScalarIO.storeDouble(p, code, swap, values[i]) { failed = failed ?? values[i] }
        }
        if let failed { throw rangeError(f, "\(failed)") }
    }

    /// Stores a whole numeric column from Floats; `values.count` must be `count · elementCount`.
    public mutating func setFloats(_ name: String, to values: [Float]) throws {
        let f = try field(name)
        let code = try numericCode(f)
        try requireCount(values.count, f)
        let swap = f.dtype.bigEndian != NPYDType.hostIsBigEndian
        var failed: Float?
        scatter(f) { p, i in
            if !NPYScalarIO.storeDouble(p, code, swap, Double(values[i])) { failed = failed ?? values[i] }
        }
        if let failed { throw rangeError(f, "\(failed)") }
    }

    /// Stores a whole column from Ints; `values.count` must be `count · elementCount`.
    public mutating func setInts(_ name: String, to values: [Int]) throws {
        let f = try field(name)
        let code = try numericCode(f)
        try requireCount(values.count, f)
        let swap = f.dtype.bigEndian != NPYDType.hostIsBigEndian
        var failed: Int?
        scatter(f) { p, i in
            if !NPYScalarIO.storeInteger(p, code, swap, .signed(Int64(values[i]))) { failed = failed ?? values[i] }
        }
        if let failed { throw rangeError(f, "\(failed)") }
    }

    /// Stores a whole column from UInt64s; `values.count` must be `count · elementCount`.
    public mutating func setUInt64s(_ name: String, to values: [UInt64]) throws {
        let f = try field(name)
        let code = try numericCode(f)
        try requireCount(values.count, f)
        let swap = f.dtype.bigEndian != NPYDType.hostIsBigEndian
        var failed: UInt64?
        scatter(f) { p, i in
            if !NPYScalarIO.storeInteger(p, code, swap, .unsigned(values[i])) { failed = failed ?? values[i] }
        }
        if let failed { throw rangeError(f, "\(failed)") }
    }

    /// Stores a whole string column; `values.count` must be `count · elementCount`. Nothing is changed if any
    /// string is too long.
    public mutating func setStrings(_ name: String, to values: [String]) throws {
        let f = try field(name)
        try requireString(f)
        try requireCount(values.count, f)
        let encoded = try values.map { try encodeString($0, f) }
        scatter(f) { p, i in
            encoded[i].withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        }
    }

    // MARK: - Changing the layout

    /// Appends a zero-filled field at the end of each record. Throws if the name exists or the array is plain.
    public mutating func addField(_ field: NPYField) throws {
        guard isStructured else { throw DuetError("cannot add field '\(field.name)' to the plain array \(source)") }
        guard index[field.name] == nil else { throw DuetError("field '\(field.name)' already in \(source)") }
        let placed = NPYField(name: field.name, dtype: field.dtype, shape: field.shape, offset: itemSize)
        let newSize = itemSize + placed.itemSize
        var out = [UInt8](repeating: 0, count: newSize * count)
        let oldSize = itemSize
        if oldSize > 0 {
            bytes.withUnsafeBytes { src in
                out.withUnsafeMutableBytes { dst in
                    for r in 0..<count {
                        (dst.baseAddress! + r * newSize).copyMemory(from: src.baseAddress! + r * oldSize,
                                                                    byteCount: oldSize)
                    }
                }
            }
        }
        index[placed.name] = fields.count
        fields.append(placed)
        itemSize = newSize
        bytes = out
    }

    /// Adds a zero-filled field named `name` of type `dtype` and sub-shape `shape` at the end of each record.
    public mutating func addField(_ name: String, _ dtype: NPYDType, shape: [Int] = []) throws {
        try addField(NPYField(name, dtype, shape: shape))
    }

    /// Removes a field; the remaining fields are repacked in order (padding is dropped).
    public mutating func removeField(_ name: String) throws {
        guard isStructured else { throw DuetError("cannot remove field '\(name)' from the plain array \(source)") }
        _ = try field(name)
        let kept = fields.filter { $0.name != name }
        var placed: [NPYField] = []
        var offset = 0
        for f in kept {
            placed.append(NPYField(name: f.name, dtype: f.dtype, shape: f.shape, offset: offset))
            offset += f.itemSize
        }
        var out = [UInt8](repeating: 0, count: offset * count)
        let oldSize = itemSize
        bytes.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                for r in 0..<count {
                    for (old, new) in zip(kept, placed) where old.itemSize > 0 {
                        (dst.baseAddress! + r * offset + new.offset).copyMemory(
                            from: src.baseAddress! + r * oldSize + old.offset, byteCount: old.itemSize)
                    }
                }
            }
        }
        fields = placed
        itemSize = offset
        bytes = out
        index = Dictionary(uniqueKeysWithValues: placed.enumerated().map { ($1.name, $0) })
    }

    /// A new 1-D array with the given records, in the given order (repeats allowed), all fields kept.
    public func selecting<S: Sequence>(rows: S) throws -> NPYStructuredArray where S.Element == Int {
        var out: [UInt8] = []
        var n = 0
        try bytes.withUnsafeBytes { src in
            for r in rows {
                guard r >= 0, r < count else {
                    throw DuetError("row \(r) out of range 0..<\(count) in \(source)")
                }
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: src[(r * itemSize)..<((r + 1) * itemSize)]))
                n += 1
            }
        }
        return try NPYStructuredArray(fields: fields, itemSize: itemSize, count: n, shape: [n],
                                      isStructured: isStructured, bytes: out, source: source)
    }

    // MARK: - Internals

    private func locate(_ name: String, row: Int, element: Int) throws -> (NPYField, Int) {
        let f = try field(name)
        guard row >= 0, row < count else {
            throw DuetError("row \(row) out of range 0..<\(count) for field '\(name)' in \(source)")
        }
        guard element >= 0, element < f.elementCount else {
            throw DuetError("element \(element) out of range 0..<\(f.elementCount) for field '\(name)' in \(source)")
        }
        return (f, row * itemSize + f.offset + element * f.dtype.size)
    }

    private func numericCode(_ f: NPYField) throws -> NPYScalarIO.Code {
        guard let code = NPYScalarIO.Code(f.dtype) else {
            throw DuetError("field '\(f.name)' in \(source) is \(f.dtype.descr), not numeric")
        }
        return code
    }

    private func integerCode(_ f: NPYField) throws -> NPYScalarIO.Code {
        let code = try numericCode(f)
        guard f.dtype.kind != .float else {
            throw DuetError("field '\(f.name)' in \(source) is \(f.dtype.descr), not an integer type")
        }
        return code
    }

    private func requireString(_ f: NPYField) throws {
        guard f.dtype.isString else {
            throw DuetError("field '\(f.name)' in \(source) is \(f.dtype.descr), not a string type")
        }
    }

    private func requireCount(_ n: Int, _ f: NPYField) throws {
        guard n == count * f.elementCount else {
            throw DuetError("\(n) values for field '\(f.name)' in \(source), which has \(count * f.elementCount)")
        }
    }

    private func intValue(_ v: NPYScalarIO.Integer, _ f: NPYField, row: Int) throws -> Int {
        switch v {
        case .signed(let s): return Int(s)
        case .unsigned(let u):
            guard let i = Int(exactly: u) else {
                throw DuetError("field '\(f.name)' row \(row) in \(source) holds \(u), above Int.max; read it with uint64")
            }
            return i
        }
    }

    private func uint64Value(_ v: NPYScalarIO.Integer, _ f: NPYField, row: Int) throws -> UInt64 {
        switch v {
        case .unsigned(let u): return u
        case .signed(let s):
            guard s >= 0 else { throw DuetError("field '\(f.name)' row \(row) in \(source) holds negative \(s)") }
            return UInt64(s)
        }
    }

    private func rangeError(_ f: NPYField, _ value: String) -> DuetError {
        DuetError("value \(value) does not fit field '\(f.name)' (\(f.dtype.descr)) in \(source)")
    }

    private func encodeString(_ value: String, _ f: NPYField) throws -> [UInt8] {
        var out: [UInt8]
        if f.dtype.kind == .bytes {
            out = Array(value.utf8)
        } else {
            out = []
            out.reserveCapacity(f.dtype.size)
            for s in value.unicodeScalars {
                let v = f.dtype.bigEndian ? s.value.bigEndian : s.value.littleEndian
                withUnsafeBytes(of: v) { out.append(contentsOf: $0) }
            }
        }
        guard out.count <= f.dtype.size else {
            let unit = f.dtype.kind == .bytes ? "bytes" : "characters"
            let n = f.dtype.kind == .bytes ? out.count : out.count / 4
            throw DuetError("string of \(n) \(unit) too long for field '\(f.name)' (\(f.dtype.descr)) in \(source)")
        }
        out += [UInt8](repeating: 0, count: f.dtype.size - out.count)
        return out
    }

    /// Calls `load` on every element of field `f`, record-major, and collects the results. One allocation.
    private func gather<T>(_ f: NPYField, _ load: (UnsafeRawPointer) -> T) -> [T] {
        let perRow = f.elementCount
        let total = count * perRow
        guard total > 0, f.dtype.size > 0 else { return [] }
        let stride = itemSize, size = f.dtype.size, offset = f.offset
        return bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress!
            return [T](unsafeUninitializedCapacity: total) { buffer, initialized in
                var k = 0
                for r in 0..<count {
                    let rowBase = base + r * stride + offset
                    for e in 0..<perRow {
                        (buffer.baseAddress! + k).initialize(to: load(rowBase + e * size))
                        k += 1
                    }
                }
                initialized = k
            }
        }
    }

    /// Calls `store` with the address of every element of field `f` and its flat index, record-major.
    private mutating func scatter(_ f: NPYField, _ store: (UnsafeMutableRawPointer, Int) -> Void) {
        let perRow = f.elementCount
        guard count * perRow > 0, f.dtype.size > 0 else { return }
        let stride = itemSize, size = f.dtype.size, offset = f.offset, n = count
        bytes.withUnsafeMutableBytes { raw in
            let base = raw.baseAddress!
            var k = 0
            for r in 0..<n {
                let rowBase = base + r * stride + offset
                for e in 0..<perRow {
                    store(rowBase + e * size, k)
                    k += 1
                }
            }
        }
    }
}

/// A plain (non-structured) numeric NumPy array, e.g. cryoDRGN's parsed poses `(N, 3, 3)` or a volume.
///
/// Conventions: `values` are in C (row-major) order whatever the file's `fortran_order` (Fortran-ordered files
/// are transposed on read); `dtype` is the element type read from the file, and the type written by `NPYFile`.
/// `shape.reduce(1, *) == values.count`; `shape == []` is a 0-d scalar array.
public struct NPYArray: Sendable, Equatable {
    /// Dimensions, slowest first.
    public var shape: [Int]
    /// Element type in the file.
    public var dtype: NPYDType
    /// The elements in C order, converted to Double.
    public var values: [Double]

    /// Makes an array; throws if `values.count` does not match `shape` or `dtype` is not numeric.
    public init(shape: [Int], values: [Double], dtype: NPYDType = .float64) throws {
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == values.count else {
            throw DuetError("NPYArray: \(values.count) values for shape \(shape)")
        }
        guard dtype.isNumeric else { throw DuetError("NPYArray: dtype \(dtype.descr) is not numeric") }
        self.shape = shape
        self.dtype = dtype
        self.values = values
    }

    /// Converts a plain numeric array read by `NPYFile.read`. Throws for a structured array or non-numeric type.
    public init(_ array: NPYStructuredArray) throws {
        guard !array.isStructured, let f = array.fields.first else {
            throw DuetError("\(array.source) is a structured array, not a plain one")
        }
        guard f.dtype.isNumeric else { throw DuetError("\(array.source) has dtype \(f.dtype.descr), not numeric") }
        try self.init(shape: array.arrayShape, values: try array.doubles(f.name), dtype: f.dtype)
    }

    /// The same data as a plain `NPYStructuredArray` (one unnamed field), converted to `dtype`.
    public func structured(source: String = "array") throws -> NPYStructuredArray {
        let lead = shape.isEmpty ? [] : [shape[0]]
        let rows = lead.first ?? 1
        let field = NPYField(name: "", dtype: dtype, shape: Array(shape.dropFirst()), offset: 0)
        var out = try NPYStructuredArray(fields: [field], itemSize: field.itemSize, count: rows, shape: lead,
                                         isStructured: false,
                                         bytes: [UInt8](repeating: 0, count: rows * field.itemSize), source: source)
        try out.setDoubles("", to: values)
        return out
    }

    /// The element at a multi-index (C order); traps if the index is out of range.
    public subscript(_ index: Int...) -> Double {
        precondition(index.count == shape.count, "NPYArray: \(index.count) indices for \(shape.count) dimensions")
        var flat = 0
        for (i, n) in zip(index, shape) {
            precondition(i >= 0 && i < n, "NPYArray: index \(index) out of range for shape \(shape)")
            flat = flat * n + i
        }
        return values[flat]
    }
}

/// Unaligned scalar loads and stores with optional byte swapping, shared by the array accessors.
enum NPYScalarIO {
    enum Code: Sendable {
        case b1, i1, i2, i4, i8, u1, u2, u4, u8, f2, f4, f8

        init?(_ t: NPYDType) {
            switch (t.kind, t.size) {
            case (.bool, 1): self = .b1
            case (.signed, 1): self = .i1
            case (.signed, 2): self = .i2
            case (.signed, 4): self = .i4
            case (.signed, 8): self = .i8
            case (.unsigned, 1): self = .u1
            case (.unsigned, 2): self = .u2
            case (.unsigned, 4): self = .u4
            case (.unsigned, 8): self = .u8
            case (.float, 2): self = .f2
            case (.float, 4): self = .f4
            case (.float, 8): self = .f8
            default: return nil
            }
        }
    }

    enum Integer {
        case signed(Int64)
        case unsigned(UInt64)
    }

    @inline(__always)
    static func bits<T: FixedWidthInteger>(_ p: UnsafeRawPointer, _ swap: Bool, _: T.Type) -> T {
        let v = p.loadUnaligned(as: T.self)
        return swap ? v.byteSwapped : v
    }

    @inline(__always)
    static func put<T: FixedWidthInteger>(_ p: UnsafeMutableRawPointer, _ swap: Bool, _ v: T) {
        p.storeBytes(of: swap ? v.byteSwapped : v, as: T.self)
    }

    @inline(__always)
    static func loadDouble(_ p: UnsafeRawPointer, _ code: Code, _ swap: Bool) -> Double {
        switch code {
        case .b1: return p.load(as: UInt8.self) != 0 ? 1 : 0
        case .i1: return Double(p.load(as: Int8.self))
        case .i2: return Double(Int16(bitPattern: bits(p, swap, UInt16.self)))
        case .i4: return Double(Int32(bitPattern: bits(p, swap, UInt32.self)))
        case .i8: return Double(Int64(bitPattern: bits(p, swap, UInt64.self)))
        case .u1: return Double(p.load(as: UInt8.self))
        case .u2: return Double(bits(p, swap, UInt16.self))
        case .u4: return Double(bits(p, swap, UInt32.self))
        case .u8: return Double(bits(p, swap, UInt64.self))
        case .f2: return halfToDouble(bits(p, swap, UInt16.self))
        case .f4: return Double(Float(bitPattern: bits(p, swap, UInt32.self)))
        case .f8: return Double(bitPattern: bits(p, swap, UInt64.self))
        }
    }

    /// Loads an integer-kind (or bool) element. Not for float codes.
    @inline(__always)
    static func loadInteger(_ p: UnsafeRawPointer, _ code: Code, _ swap: Bool) -> Integer {
        switch code {
        case .b1: return .signed(p.load(as: UInt8.self) != 0 ? 1 : 0)
        case .i1: return .signed(Int64(p.load(as: Int8.self)))
        case .i2: return .signed(Int64(Int16(bitPattern: bits(p, swap, UInt16.self))))
        case .i4: return .signed(Int64(Int32(bitPattern: bits(p, swap, UInt32.self))))
        case .i8: return .signed(Int64(bitPattern: bits(p, swap, UInt64.self)))
        case .u1: return .unsigned(UInt64(p.load(as: UInt8.self)))
        case .u2: return .unsigned(UInt64(bits(p, swap, UInt16.self)))
        case .u4: return .unsigned(UInt64(bits(p, swap, UInt32.self)))
        case .u8: return .unsigned(bits(p, swap, UInt64.self))
        case .f2, .f4, .f8:
            let d = loadDouble(p, code, swap)
            return .signed(Int64(exactly: d) ?? 0)
        }
    }

    /// Stores a Double; returns false (and stores nothing) if an integer field cannot hold it exactly.
    @inline(__always)
    static func storeDouble(_ p: UnsafeMutableRawPointer, _ code: Code, _ swap: Bool, _ v: Double) -> Bool {
        switch code {
        case .f2: put(p, swap, doubleToHalf(v)); return true
        case .f4: put(p, swap, Float(v).bitPattern); return true
        case .f8: put(p, swap, v.bitPattern); return true
        case .b1: p.storeBytes(of: v != 0 ? 1 : 0, as: UInt8.self); return true
        case .u8:
            guard let u = UInt64(exactly: v) else { return false }
            return storeInteger(p, code, swap, .unsigned(u))
        default:
            guard let i = Int64(exactly: v) else { return false }
            return storeInteger(p, code, swap, .signed(i))
        }
    }

    /// Stores an integer; returns false (and stores nothing) if it is out of the field type's range.
    @inline(__always)
    static func storeInteger(_ p: UnsafeMutableRawPointer, _ code: Code, _ swap: Bool, _ v: Integer) -> Bool {
        switch code {
        case .f2, .f4, .f8:
            let d: Double
            switch v {
            case .signed(let s): d = Double(s)
            case .unsigned(let u): d = Double(u)
            }
            return storeDouble(p, code, swap, d)
        case .b1:
            let nonzero: Bool
            switch v {
            case .signed(let s): nonzero = s != 0
            case .unsigned(let u): nonzero = u != 0
            }
            p.storeBytes(of: nonzero ? 1 : 0, as: UInt8.self)
            return true
        default: break
        }
        func convert<T: FixedWidthInteger>(_: T.Type) -> T? {
            switch v {
            case .signed(let s): return T(exactly: s)
            case .unsigned(let u): return T(exactly: u)
            }
        }
        switch code {
        case .i1: guard let x = convert(Int8.self) else { return false }; p.storeBytes(of: x, as: Int8.self)
        case .i2: guard let x = convert(Int16.self) else { return false }; put(p, swap, x)
        case .i4: guard let x = convert(Int32.self) else { return false }; put(p, swap, x)
        case .i8: guard let x = convert(Int64.self) else { return false }; put(p, swap, x)
        case .u1: guard let x = convert(UInt8.self) else { return false }; p.storeBytes(of: x, as: UInt8.self)
        case .u2: guard let x = convert(UInt16.self) else { return false }; put(p, swap, x)
        case .u4: guard let x = convert(UInt32.self) else { return false }; put(p, swap, x)
        case .u8: guard let x = convert(UInt64.self) else { return false }; put(p, swap, x)
        default: return false
        }
        return true
    }

    /// Decodes a fixed-length string element: `Sn` as UTF-8 (invalid bytes replaced) without trailing NULs, `Un`
    /// as UTF-32 without trailing NUL code points.
    static func loadString(_ raw: UnsafeRawBufferPointer, _ t: NPYDType) -> String {
        if t.kind == .bytes {
            var end = raw.count
            while end > 0, raw[end - 1] == 0 { end -= 1 }
            return String(decoding: UnsafeRawBufferPointer(rebasing: raw[0..<end]), as: UTF8.self)
        }
        let swap = t.bigEndian != NPYDType.hostIsBigEndian
        var units: [UInt32] = []
        let n = raw.count / 4
        units.reserveCapacity(n)
        for k in 0..<n { units.append(bits(raw.baseAddress! + 4 * k, swap, UInt32.self)) }
        while let last = units.last, last == 0 { units.removeLast() }
        var scalars = String.UnicodeScalarView()
        for u in units { scalars.append(Unicode.Scalar(u) ?? "\u{FFFD}") }
        return String(scalars)
    }

    /// IEEE binary16 bits → Double.
    static func halfToDouble(_ h: UInt16) -> Double {
        let negative = (h & 0x8000) != 0
        let exponent = Int((h >> 10) & 0x1F)
        let mantissa = Double(h & 0x3FF)
        let magnitude: Double
        switch exponent {
        case 0: magnitude = mantissa * 0x1p-24
        case 31: magnitude = mantissa == 0 ? .infinity : .nan
        default: magnitude = (1 + mantissa / 1024) * Double(sign: .plus, exponent: exponent - 15, significand: 1)
        }
        return negative ? -magnitude : magnitude
    }

    /// Double → IEEE binary16 bits, rounding to nearest even (overflow gives ±infinity).
    static func doubleToHalf(_ d: Double) -> UInt16 {
        let sign: UInt16 = d.sign == .minus ? 0x8000 : 0
        if d.isNaN { return 0x7E00 }
        let a = abs(d)
        if a.isInfinite || a >= 65520 { return sign | 0x7C00 }  // 65520 rounds up to infinity
        if a < 0x1p-14 {
            // Subnormal: multiples of 2^-24, ties to even.
            let q = a * 0x1p24
            return sign | UInt16(q.rounded(.toNearestOrEven))
        }
        let e = Int(a.exponent)  // -14 ... 15
        let scaled = a * Double(sign: .plus, exponent: 10 - e, significand: 1)  // in [1024, 2048)
        var m = Int(scaled.rounded(.toNearestOrEven))
        var biased = e + 15
        if m == 2048 { m = 1024; biased += 1 }
        if biased >= 31 { return sign | 0x7C00 }
        return sign | UInt16(biased << 10) | UInt16(m - 1024)
    }
}
