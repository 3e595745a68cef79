import DuetCore
import Foundation

// NumPy `.npy` header handling: the magic string, the version-dependent header length, and the Python-literal
// dictionary `{'descr': ..., 'fortran_order': ..., 'shape': ...}` that describes the array. Format reference:
// numpy.lib.format (NEP 1). Everything here is pure value code; file I/O lives in NPYFile.swift.

/// One NumPy scalar type as written in an `.npy` `descr` string, e.g. `<f4`, `>u8`, `|S10`, `|b1`, `<U5`.
///
/// Conventions: `size` is the number of bytes of one element (for `<Un` that is `4·n`, UTF-32 code units);
/// `bigEndian` is meaningful only for multi-byte numeric and unicode kinds — one-byte kinds, byte strings and
/// void are rendered with `|`. The native order `=` is resolved to the host's order when parsed. Supported kinds:
/// bool (`b1`), signed and unsigned integers of 1, 2, 4, 8 bytes, IEEE floats of 2, 4, 8 bytes, fixed-length byte
/// strings (`Sn`), fixed-length UTF-32 strings (`Un`) and opaque void bytes (`Vn`, kept but not interpreted).
public struct NPYDType: Sendable, Hashable, CustomStringConvertible {
    /// The NumPy kind character of the type.
    public enum Kind: Character, Sendable, Hashable {
        case bool = "b", signed = "i", unsigned = "u", float = "f", bytes = "S", unicode = "U", void = "V"
    }

    /// What the elements are.
    public let kind: Kind
    /// Bytes per element.
    public let size: Int
    /// Whether multi-byte values are stored most significant byte first.
    public let bigEndian: Bool

    /// Makes a type from its parts. Throws `DuetError` for sizes NumPy does not have (e.g. a 3-byte float).
    public init(kind: Kind, size: Int, bigEndian: Bool = false) throws {
        switch kind {
        case .bool: guard size == 1 else { throw DuetError("unsupported dtype: bool of \(size) bytes") }
        case .signed, .unsigned:
            guard [1, 2, 4, 8].contains(size) else { throw DuetError("unsupported dtype: \(size)-byte integer") }
        case .float: guard [2, 4, 8].contains(size) else { throw DuetError("unsupported dtype: \(size)-byte float") }
        case .unicode:
            guard size >= 0, size % 4 == 0 else { throw DuetError("unsupported dtype: unicode of \(size) bytes") }
        case .bytes, .void: guard size >= 0 else { throw DuetError("unsupported dtype: negative size") }
        }
        self.kind = kind
        self.size = size
        // One-byte values and byte strings have no byte order; normalise so equal types compare equal.
        self.bigEndian = (kind == .bytes || kind == .void || size <= 1) ? false : bigEndian
    }

    private init(unchecked kind: Kind, _ size: Int) {
        self.kind = kind
        self.size = size
        self.bigEndian = false
    }

    /// Parses a NumPy type string such as `<f4`, `=i8`, `|S56`, `u4`, `<U10`. Throws `DuetError` naming the string
    /// when it is not a supported type (complex, object, datetime, ...).
    public init(parsing text: String) throws {
        var chars = Substring(text)
        var big = NPYDType.hostIsBigEndian
        if let first = chars.first, "<>|=".contains(first) {
            if first == "<" { big = false } else if first == ">" { big = true }
            chars = chars.dropFirst()
        }
        guard let kindChar = chars.first else { throw DuetError("unsupported dtype '\(text)'") }
        let digits = chars.dropFirst()
        var kind: Kind
        switch kindChar {
        case "?": kind = .bool
        case "b" where digits.isEmpty: kind = .signed  // 'b' alone is int8 in NumPy's one-character codes
        default:
            guard let k = Kind(rawValue: kindChar) else { throw DuetError("unsupported dtype '\(text)'") }
            kind = k
        }
        var count: Int
        if digits.isEmpty {
            guard kindChar == "?" || kindChar == "b" else { throw DuetError("unsupported dtype '\(text)' (no size)") }
            count = 1
        } else {
            guard digits.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(digits) else {
                throw DuetError("unsupported dtype '\(text)'")
            }
            count = n
        }
        if kind == .unicode { count *= 4 }
        do {
            try self.init(kind: kind, size: count, bigEndian: big)
        } catch {
            throw DuetError("unsupported dtype '\(text)'")
        }
    }

    /// The type string NumPy writes for this type (`dtype.str`): `<f4`, `>i2`, `|u1`, `|S10`, `<U5`, `|b1`, `|V8`.
    public var descr: String {
        let count = kind == .unicode ? size / 4 : size
        let order: Character
        switch kind {
        case .bytes, .void: order = "|"
        case .bool: order = "|"
        case .unicode: order = bigEndian ? ">" : "<"
        case .signed, .unsigned, .float: order = size == 1 ? "|" : (bigEndian ? ">" : "<")
        }
        return "\(order)\(kind.rawValue)\(count)"
    }

    /// Same as `descr`.
    public var description: String { descr }

    /// Whether the elements are numbers (bool counts as a number, 0 or 1).
    public var isNumeric: Bool { kind == .bool || kind == .signed || kind == .unsigned || kind == .float }
    /// Whether the elements are strings (`Sn` or `Un`).
    public var isString: Bool { kind == .bytes || kind == .unicode }

    /// Whether this machine stores numbers most significant byte first (what `=` means).
    public static let hostIsBigEndian: Bool = 1.bigEndian == 1

    /// `|b1`, NumPy bool (one byte, 0 or 1).
    public static let bool = NPYDType(unchecked: .bool, 1)
    /// Little-endian integer and float types: `|i1`, `<i2`, `<i4`, `<i8`, `|u1` ... `<u8`, `<f2`, `<f4`, `<f8`.
    public static let int8 = NPYDType(unchecked: .signed, 1)
    public static let int16 = NPYDType(unchecked: .signed, 2)
    public static let int32 = NPYDType(unchecked: .signed, 4)
    public static let int64 = NPYDType(unchecked: .signed, 8)
    public static let uint8 = NPYDType(unchecked: .unsigned, 1)
    public static let uint16 = NPYDType(unchecked: .unsigned, 2)
    public static let uint32 = NPYDType(unchecked: .unsigned, 4)
    public static let uint64 = NPYDType(unchecked: .unsigned, 8)
    public static let float16 = NPYDType(unchecked: .float, 2)
    public static let float32 = NPYDType(unchecked: .float, 4)
    public static let float64 = NPYDType(unchecked: .float, 8)
    /// Fixed-length byte string `|Sn` of `length` bytes (NUL padded, no terminator required).
    public static func bytes(_ length: Int) -> NPYDType { NPYDType(unchecked: .bytes, max(0, length)) }
    /// Fixed-length UTF-32 string `<Un` of `length` characters.
    public static func unicode(_ length: Int) -> NPYDType { NPYDType(unchecked: .unicode, 4 * max(0, length)) }
}

/// One named field (column) of a structured array.
///
/// Conventions: `shape` is the field's sub-array shape, `[]` for a scalar field and e.g. `[2]` for CryoSPARC's
/// `('blob/shape', '<u4', (2,))`; its elements are stored row-major (C order) inside the record. `offset` is the
/// byte offset of the field inside one record; NumPy's default layout is packed (each offset is the sum of the
/// previous fields' sizes), which is what `NPYStructuredArray` builds, but a file may carry padding, which is kept.
public struct NPYField: Sendable, Hashable {
    /// Field name exactly as in the file, e.g. `ctf/df1_A`. The single field of a plain (non-structured) array
    /// is unnamed (`""`).
    public let name: String
    /// Element type.
    public let dtype: NPYDType
    /// Sub-array shape, `[]` for scalars.
    public let shape: [Int]
    /// Byte offset inside a record.
    public internal(set) var offset: Int

    /// Makes a field; its offset is assigned when it is placed in an array (packed after the previous field).
    public init(_ name: String, _ dtype: NPYDType, shape: [Int] = []) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.offset = 0
    }

    init(name: String, dtype: NPYDType, shape: [Int], offset: Int) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.offset = offset
    }

    /// Number of elements per record (product of `shape`, 1 for a scalar).
    public var elementCount: Int { shape.reduce(1, *) }
    /// Bytes per record (`dtype.size · elementCount`).
    public var itemSize: Int { dtype.size * elementCount }
}

/// The parsed header of an `.npy` file.
///
/// Conventions: `fields` always describes one record; a plain array such as `'<f4'` with shape `(1000, 3, 3)` is
/// represented as `isStructured == false`, one unnamed field of sub-shape `[3, 3]` and `shape == [1000, 3, 3]`
/// (the full array shape, as in the file). `itemSize` is the record size including any padding; padding entries
/// (`('', '|V4')`) are not fields, they only shift the following offsets. Version is (1,0), (2,0) or (3,0).
public struct NPYHeader: Sendable, Equatable {
    /// Format version `(major, minor)` read from the file or chosen for writing.
    public var major: Int
    /// Minor format version (always 0 so far).
    public var minor: Int
    /// Whether `descr` was a list of named fields (a structured array, e.g. every CryoSPARC `.cs`).
    public var isStructured: Bool
    /// The fields of one record, in file order, with offsets.
    public var fields: [NPYField]
    /// Bytes per record, padding included.
    public var itemSize: Int
    /// Whether the array data are in Fortran (column-major) order.
    public var fortranOrder: Bool
    /// The array shape, `(N,)` for a `.cs` file.
    public var shape: [Int]

    /// Creates a header.
    public init(major: Int = 1, minor: Int = 0, isStructured: Bool, fields: [NPYField], itemSize: Int,
                fortranOrder: Bool = false, shape: [Int]) {
        self.major = major
        self.minor = minor
        self.isStructured = isStructured
        self.fields = fields
        self.itemSize = itemSize
        self.fortranOrder = fortranOrder
        self.shape = shape
    }

    /// The magic bytes every `.npy` file starts with: `\x93NUMPY`.
    public static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]

    /// Number of records (product of `shape` for structured arrays; for plain arrays the product of the leading
    /// dimension only, the rest being the field's sub-shape). A 0-d array has one record.
    public var recordCount: Int {
        if isStructured || shape.isEmpty { return shape.reduce(1, *) }
        return shape[0]
    }

    /// Parses the header at the start of `bytes` (magic, version, length, dictionary). Returns the header and the
    /// offset at which the array data start. `source` names the file in error messages.
    public static func parse(_ bytes: UnsafeRawBufferPointer, source: String) throws -> (NPYHeader, dataOffset: Int) {
        guard bytes.count >= 8, Array(bytes[0..<6]) == magic else {
            throw DuetError("not an npy file: \(source) (no \\x93NUMPY magic)")
        }
        let major = Int(bytes[6]), minor = Int(bytes[7])
        let lengthBytes: Int
        switch major {
        case 1: lengthBytes = 2
        case 2, 3: lengthBytes = 4
        default: throw DuetError("unsupported npy version \(major).\(minor) in \(source)")
        }
        guard bytes.count >= 8 + lengthBytes else { throw DuetError("truncated npy header in \(source)") }
        var length = 0
        for i in 0..<lengthBytes { length |= Int(bytes[8 + i]) << (8 * i) }
        let start = 8 + lengthBytes
        guard bytes.count >= start + length else {
            throw DuetError("truncated npy header in \(source): header says \(length) bytes, file has \(bytes.count - start)")
        }
        let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<(start + length)])
        let text: String
        if major == 3 {
            guard let utf8 = String(validating: raw, as: UTF8.self) else {
                throw DuetError("npy header of \(source) is not valid UTF-8")
            }
            text = utf8
        } else {
            // Versions 1 and 2 are latin-1.
            var scalars = String.UnicodeScalarView()
            for b in raw { scalars.append(Unicode.Scalar(b)) }
            text = String(scalars)
        }
        var header = try parseDictionary(text, source: source)
        header.major = major
        header.minor = minor
        return (header, start + length)
    }

    /// Parses the dictionary text `{'descr': ..., 'fortran_order': ..., 'shape': ...}`.
    public static func parseDictionary(_ text: String, source: String) throws -> NPYHeader {
        var parser = PyLiteralParser(text: text, source: source)
        let value = try parser.parseTop()
        guard case .dict(let entries) = value else {
            throw DuetError("malformed npy header in \(source): not a dictionary")
        }
        var descr: PyValue?
        var fortran: Bool?
        var shape: [Int]?
        for (key, v) in entries {
            guard case .str(let k) = key else { continue }
            switch k {
            case "descr": descr = v
            case "fortran_order":
                guard case .bool(let b) = v else {
                    throw DuetError("malformed npy header in \(source): fortran_order is not True/False")
                }
                fortran = b
            case "shape":
                shape = try intTuple(v, what: "shape", source: source)
                if shape!.contains(where: { $0 < 0 }) {
                    throw DuetError("malformed npy header in \(source): negative dimension in shape")
                }
            default: break  // NumPy rejects extra keys; tolerate them.
            }
        }
        guard let descr, let fortran, let shape else {
            throw DuetError("malformed npy header in \(source): needs 'descr', 'fortran_order' and 'shape'")
        }
        switch descr {
        case .str(let s):
            let dtype: NPYDType
            do { dtype = try NPYDType(parsing: s) } catch {
                throw DuetError("unsupported dtype '\(s)' in \(source)")
            }
            let field = NPYField(name: "", dtype: dtype, shape: Array(shape.dropFirst()), offset: 0)
            return NPYHeader(isStructured: false, fields: [field], itemSize: field.itemSize,
                             fortranOrder: fortran, shape: shape)
        case .list(let items):
            var fields: [NPYField] = []
            var seen = Set<String>()
            var offset = 0
            for item in items {
                guard case .tuple(let parts) = item, parts.count == 2 || parts.count == 3 else {
                    throw DuetError("malformed npy header in \(source): descr entry is not (name, type[, shape])")
                }
                var name: String
                switch parts[0] {
                case .str(let n): name = n
                case .tuple(let t) where t.count == 2:  // (title, name)
                    guard case .str(let n) = t[1] else {
                        throw DuetError("malformed npy header in \(source): bad field name")
                    }
                    name = n
                default: throw DuetError("malformed npy header in \(source): bad field name")
                }
                let sub: [Int] = parts.count == 3 ? try intTuple(parts[2], what: "shape of field '\(name)'",
                                                                  source: source) : []
                if sub.contains(where: { $0 < 0 }) {
                    throw DuetError("malformed npy header in \(source): negative sub-shape of field '\(name)'")
                }
                guard case .str(let typeText) = parts[1] else {
                    throw DuetError("unsupported dtype for field '\(name)' in \(source): nested structured types are not supported")
                }
                let dtype: NPYDType
                do { dtype = try NPYDType(parsing: typeText) } catch {
                    throw DuetError("unsupported dtype '\(typeText)' for field '\(name)' in \(source)")
                }
                let field = NPYField(name: name, dtype: dtype, shape: sub, offset: offset)
                offset += field.itemSize
                if name.isEmpty && dtype.kind == .void { continue }  // padding: shifts offsets only
                if name.isEmpty { name = "f\(fields.count)" }
                guard seen.insert(name).inserted else {
                    throw DuetError("malformed npy header in \(source): duplicate field '\(name)'")
                }
                fields.append(NPYField(name: name, dtype: dtype, shape: sub, offset: field.offset))
            }
            return NPYHeader(isStructured: true, fields: fields, itemSize: offset, fortranOrder: fortran, shape: shape)
        default:
            throw DuetError("malformed npy header in \(source): 'descr' is neither a type string nor a list")
        }
    }

    private static func intTuple(_ v: PyValue, what: String, source: String) throws -> [Int] {
        switch v {
        case .int(let i): return [i]
        case .tuple(let items), .list(let items):
            return try items.map { item in
                guard case .int(let i) = item else {
                    throw DuetError("malformed npy header in \(source): \(what) is not a tuple of integers")
                }
                return i
            }
        default: throw DuetError("malformed npy header in \(source): \(what) is not a tuple of integers")
        }
    }

    /// The dictionary text as NumPy writes it (keys sorted, trailing `, }`), without padding or newline, e.g.
    /// `{'descr': [('uid', '<u8'), ('blob/shape', '<u4', (2,))], 'fortran_order': False, 'shape': (7,), }`.
    public func renderDictionary() -> String {
        var out = "{'descr': "
        if isStructured {
            out += "["
            var cursor = 0
            var entries: [String] = []
            for f in fields {
                if f.offset > cursor { entries.append("('', '|V\(f.offset - cursor)')") }
                var e = "(" + pythonRepr(f.name) + ", '" + f.dtype.descr + "'"
                if !f.shape.isEmpty { e += ", " + tupleRepr(f.shape) }
                entries.append(e + ")")
                cursor = f.offset + f.itemSize
            }
            if itemSize > cursor { entries.append("('', '|V\(itemSize - cursor)')") }
            out += entries.joined(separator: ", ") + "]"
        } else {
            out += "'" + (fields.first?.dtype.descr ?? "|V0") + "'"
        }
        out += ", 'fortran_order': " + (fortranOrder ? "True" : "False")
        out += ", 'shape': " + tupleRepr(shape) + ", }"
        return out
    }

    /// The complete header bytes (magic, version, length, dictionary, space padding, `\n`), padded so that the
    /// data start at a multiple of 64 bytes. Chooses version 1.0, or 2.0 when the header exceeds 65535 bytes, or
    /// 3.0 when a field name is not latin-1; `major`/`minor` of `self` are ignored.
    public func encoded() -> (bytes: [UInt8], major: Int) {
        var dict = renderDictionary()
        // Spare room so the header can be rewritten in place when the leading dimension grows (as NumPy does).
        if !shape.isEmpty {
            let lead = String(shape[fortranOrder ? shape.count - 1 : 0])
            dict += String(repeating: " ", count: max(0, 21 - lead.count))
        }
        var body: [UInt8]
        var major: Int
        if dict.unicodeScalars.allSatisfy({ $0.value < 256 }) {
            body = dict.unicodeScalars.map { UInt8($0.value) }
            major = 1
            if body.count + 1 + (64 - (10 + body.count + 1) % 64) > 65535 { major = 2 }
        } else {
            body = Array(dict.utf8)
            major = 3
        }
        let prefix = major == 1 ? 10 : 12
        // As numpy: 1...64 spaces (a full 64 when already aligned), so the bytes match np.save's exactly.
        let pad = 64 - (prefix + body.count + 1) % 64
        body += [UInt8](repeating: 0x20, count: pad)
        body.append(0x0A)
        var out = NPYHeader.magic + [UInt8(major), 0]
        let length = body.count
        if major == 1 {
            out += [UInt8(length & 0xFF), UInt8(length >> 8)]
        } else {
            out += [UInt8(length & 0xFF), UInt8((length >> 8) & 0xFF), UInt8((length >> 16) & 0xFF),
                    UInt8((length >> 24) & 0xFF)]
        }
        return (out + body, major)
    }
}

/// Python `repr` of a tuple of ints: `()`, `(7,)`, `(3, 3)`.
func tupleRepr(_ values: [Int]) -> String {
    if values.count == 1 { return "(\(values[0]),)" }
    return "(" + values.map(String.init).joined(separator: ", ") + ")"
}

/// Python 3 `repr` of a str: single quotes unless the text holds `'` and no `"`; escapes backslash, the quote,
/// control characters; printable non-ASCII characters are kept.
func pythonRepr(_ s: String) -> String {
    let quote: Character = (s.contains("'") && !s.contains("\"")) ? "\"" : "'"
    var out = String(quote)
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if Character(scalar) == quote {
                out += "\\" + String(quote)
            } else if scalar.value < 0x20 || scalar.value == 0x7F || (scalar.value >= 0x80 && scalar.value < 0xA0) {
                out += String(format: "\\x%02x", scalar.value)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    out.append(quote)
    return out
}

/// A Python literal as found in an `.npy` header.
indirect enum PyValue: Sendable {
    case str(String)
    case int(Int)
    case bool(Bool)
    case none
    case tuple([PyValue])
    case list([PyValue])
    case dict([(PyValue, PyValue)])
}

/// Recursive-descent parser for the subset of Python literals NumPy writes in headers.
struct PyLiteralParser {
    let scalars: [Unicode.Scalar]
    var i = 0
    let source: String

    init(text: String, source: String) {
        self.scalars = Array(text.unicodeScalars)
        self.source = source
    }

    private func fail(_ what: String) -> DuetError {
        DuetError("malformed npy header in \(source): \(what) at character \(i)")
    }

    private mutating func skipSpace() {
        while i < scalars.count, scalars[i] == " " || scalars[i] == "\n" || scalars[i] == "\t" || scalars[i] == "\r" {
            i += 1
        }
    }

    mutating func parseTop() throws -> PyValue {
        let v = try parseValue()
        skipSpace()
        guard i == scalars.count else { throw fail("unexpected text after the dictionary") }
        return v
    }

    private mutating func parseValue() throws -> PyValue {
        skipSpace()
        guard i < scalars.count else { throw fail("unexpected end") }
        let c = scalars[i]
        switch c {
        case "{":
            i += 1
            var entries: [(PyValue, PyValue)] = []
            while true {
                skipSpace()
                if i < scalars.count, scalars[i] == "}" { i += 1; break }
                let k = try parseValue()
                skipSpace()
                guard i < scalars.count, scalars[i] == ":" else { throw fail("expected ':'") }
                i += 1
                let v = try parseValue()
                entries.append((k, v))
                skipSpace()
                guard i < scalars.count else { throw fail("unterminated dictionary") }
                if scalars[i] == "," { i += 1; continue }
                if scalars[i] == "}" { i += 1; break }
                throw fail("expected ',' or '}'")
            }
            return .dict(entries)
        case "[", "(":
            let close: Unicode.Scalar = c == "[" ? "]" : ")"
            i += 1
            var items: [PyValue] = []
            var sawComma = false
            while true {
                skipSpace()
                if i < scalars.count, scalars[i] == close { i += 1; break }
                items.append(try parseValue())
                skipSpace()
                guard i < scalars.count else { throw fail("unterminated sequence") }
                if scalars[i] == "," { i += 1; sawComma = true; continue }
                if scalars[i] == close { i += 1; break }
                throw fail("expected ',' or '\(close)'")
            }
            if c == "(" && items.count == 1 && !sawComma { return items[0] }  // parenthesised expression
            return c == "[" ? .list(items) : .tuple(items)
        case "'", "\"":
            return .str(try parseString())
        case "b" where i + 1 < scalars.count && (scalars[i + 1] == "'" || scalars[i + 1] == "\""),
             "u" where i + 1 < scalars.count && (scalars[i + 1] == "'" || scalars[i + 1] == "\""):
            i += 1  // b'...' / u'...' (Python 2 era headers)
            return .str(try parseString())
        default:
            if c == "-" || c == "+" || (c.value >= 48 && c.value <= 57) {
                var text = ""
                if c == "-" || c == "+" { text.unicodeScalars.append(c); i += 1 }
                while i < scalars.count, scalars[i].value >= 48, scalars[i].value <= 57 {
                    text.unicodeScalars.append(scalars[i])
                    i += 1
                }
                if i < scalars.count, scalars[i] == "L" || scalars[i] == "l" { i += 1 }  // Python 2 long
                guard let n = Int(text) else { throw fail("bad integer '\(text)'") }
                return .int(n)
            }
            var word = ""
            while i < scalars.count, scalars[i].properties.isAlphabetic || scalars[i] == "_" {
                word.unicodeScalars.append(scalars[i])
                i += 1
            }
            switch word {
            case "True": return .bool(true)
            case "False": return .bool(false)
            case "None": return .none
            default: throw fail("unexpected '\(word.isEmpty ? String(Character(c)) : word)'")
            }
        }
    }

    private mutating func parseString() throws -> String {
        let quote = scalars[i]
        i += 1
        var out = String.UnicodeScalarView()
        while true {
            guard i < scalars.count else { throw fail("unterminated string") }
            let c = scalars[i]
            i += 1
            if c == quote { break }
            if c != "\\" { out.append(c); continue }
            guard i < scalars.count else { throw fail("unterminated string") }
            let e = scalars[i]
            i += 1
            switch e {
            case "n": out.append("\n")
            case "t": out.append("\t")
            case "r": out.append("\r")
            case "0", "1", "2", "3", "4", "5", "6", "7":
                var v = Int(e.value - 48)
                var digits = 1
                while digits < 3, i < scalars.count, scalars[i].value >= 48, scalars[i].value <= 55 {
                    v = v * 8 + Int(scalars[i].value - 48)
                    i += 1
                    digits += 1
                }
                guard let s = Unicode.Scalar(v) else { throw fail("bad escape") }
                out.append(s)
            case "x", "u", "U":
                let n = e == "x" ? 2 : (e == "u" ? 4 : 8)
                guard i + n <= scalars.count else { throw fail("bad escape") }
                var hex = ""
                for k in 0..<n { hex.unicodeScalars.append(scalars[i + k]) }
                i += n
                guard let v = UInt32(hex, radix: 16), let s = Unicode.Scalar(v) else { throw fail("bad escape") }
                out.append(s)
            case "\n": break  // line continuation
            case "\\", "'", "\"": out.append(e)
            default: out.append("\\"); out.append(e)  // Python keeps unknown escapes verbatim
            }
        }
        return String(out)
    }
}
