import DuetCore
import Foundation

/// Writes a `StarDocument` as RELION 3.1-style STAR text that `StarReader`, RELION and the Python `starfile` package
/// read back to the same names and values.
///
/// Layout: a `# version 30001` line, then for each block in order: `data_NAME`, its items as `_key value` lines (keys
/// padded to one width), then, if it has a table, `loop_`, one `_column #N` header per column (N from 1), and one
/// line per row. Values are written as stored; a value is quoted (`"…"`, or `'…'` when it holds a `"` followed by
/// a space) when it is empty, contains whitespace or `#`, or starts with a quote, `_`, or a `data_`/`loop_`-style
/// keyword. Columns are padded to their widest value: right-aligned when every value looks like a number,
/// left-aligned otherwise. No line has trailing spaces; the file ends with a newline.
///
/// Errors (`DuetError`): a value with a line break, or with both `"` and `'` followed by whitespace (neither quote
/// can hold it); a block, key or column name that is empty (block names may be empty) or holds whitespace or `#`;
/// a table without columns; a row whose value count differs from the column count.
public enum StarWriter {
    /// The comment line that starts every file written, as RELION 3.1 writes it.
    public static let versionLine = "# version 30001"

    /// The document as STAR text. Throws `DuetError` for values or names that STAR cannot hold (see the type).
    public static func render(_ document: StarDocument) throws -> String {
        var output = [UInt8]()
        try encode(document) { chunk in output.append(contentsOf: chunk.bindMemory(to: UInt8.self)) }
        return String(decoding: output, as: UTF8.self)
    }

    /// Writes the document to `path` atomically (`AtomicFile`): a reader never sees a partial file, and on error
    /// the destination is left as it was. Throws `DuetError` naming the path on failure.
    public static func write(_ document: StarDocument, to path: String) throws {
        guard !path.isEmpty else { throw DuetError("cannot write STAR file: the path is empty") }
        do {
            try AtomicFile.write(to: path) { handle in
                try encode(document) { chunk in try handle.write(contentsOf: Data(chunk)) }
            }
        } catch let error as DuetError {
            throw error.message.contains(path) ? error : DuetError("cannot write STAR file \(path): \(error.message)")
        }
    }

    /// Encodes the document, handing out UTF-8 chunks of about 1 MiB in order.
    static func encode(_ document: StarDocument, to sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        try withoutActuallyEscaping(sink) { sink in
            var encoder = StarTextEncoder(sink: sink)
            try encoder.document(document)
            try encoder.flush()
        }
    }
}

/// A growable byte buffer in unmanaged storage (the encoder's hot path appends bytes one by one).
private final class ByteBuffer {
    private(set) var storage: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
    }

    deinit { storage.deallocate() }

    var isEmpty: Bool { count == 0 }

    @inline(__always)
    func append(_ byte: UInt8) {
        if count == capacity { grow(to: capacity * 2) }
        storage[count] = byte
        count += 1
    }

    @inline(__always)
    func append(contentsOf bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress else { return }
        if count + bytes.count > capacity { grow(to: max(capacity * 2, count + bytes.count)) }
        (storage + count).update(from: source, count: bytes.count)
        count += bytes.count
    }

    func removeAll() { count = 0 }

    private func grow(to newCapacity: Int) {
        let newStorage = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newStorage.update(from: storage, count: count)
        storage.deallocate()
        storage = newStorage
        capacity = newCapacity
    }
}

/// The class of each byte value for the writer's quoting decision (see `StarTextEncoder.plainForm`).
private final class ByteClasses {
    static let numberByte: UInt8 = 1    // 0-9 . + - e E
    static let specialByte: UInt8 = 2   // whitespace, line breaks, #, quotes: the slow path decides
    let table: UnsafeMutablePointer<UInt8>

    init() {
        table = .allocate(capacity: 256)
        for index in 0..<256 {
            let byte = UInt8(index)
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "+"), UInt8(ascii: "-"),
                 UInt8(ascii: "e"), UInt8(ascii: "E"):
                table[index] = Self.numberByte
            case 0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, UInt8(ascii: "#"), UInt8(ascii: "'"), UInt8(ascii: "\""):
                table[index] = Self.specialByte
            default:
                table[index] = 0
            }
        }
    }

    deinit { table.deallocate() }
}

/// Builds STAR text into a byte buffer, flushing it through `sink` when it grows past a threshold.
private struct StarTextEncoder {
    private let sink: (UnsafeRawBufferPointer) throws -> Void
    private let buffer: ByteBuffer
    private let classes = ByteClasses()
    private let flushThreshold = 1 << 20

    private static let space = UInt8(ascii: " ")
    private static let newline = UInt8(ascii: "\n")
    private static let doubleQuote = UInt8(ascii: "\"")
    private static let singleQuote = UInt8(ascii: "'")

    init(sink: @escaping (UnsafeRawBufferPointer) throws -> Void) {
        self.sink = sink
        buffer = ByteBuffer(capacity: flushThreshold + (64 << 10))
    }

    mutating func flush() throws {
        guard !buffer.isEmpty else { return }
        try sink(UnsafeRawBufferPointer(start: buffer.storage, count: buffer.count))
        buffer.removeAll()
    }

    // MARK: Structure

    mutating func document(_ document: StarDocument) throws {
        append(StarWriter.versionLine)
        buffer.append(Self.newline)
        for block in document.blocks {
            try self.block(block)
        }
        if buffer.count >= flushThreshold { try flush() }
    }

    private mutating func block(_ block: StarBlock) throws {
        let label = "block data_\(block.name)"
        if let bad = block.name.utf8.first(where: { isWhitespace($0) || $0 == UInt8(ascii: "#") }) {
            throw DuetError("cannot write \(label): the block name contains '\(Character(Unicode.Scalar(bad)))'")
        }
        buffer.append(Self.newline)
        append("data_")
        append(block.name)
        buffer.append(Self.newline)
        buffer.append(Self.newline)

        if !block.pairs.isEmpty {
            var keyWidth = 0
            for pair in block.pairs {
                try checkName(pair.key, what: "item", in: label)
                keyWidth = max(keyWidth, pair.key.utf8.count + 1)
            }
            for pair in block.pairs {
                buffer.append(UInt8(ascii: "_"))
                append(pair.key)
                pad(keyWidth - pair.key.utf8.count - 1 + 4)
                let form = try valueForm(pair.value, in: label, column: pair.key, row: nil)
                appendValue(pair.value, quote: form.quote)
                buffer.append(Self.newline)
            }
            buffer.append(Self.newline)
        }

        guard let table = block.table else { return }
        guard table.columnCount > 0 else { throw DuetError("cannot write \(label): its loop_ table has no columns") }
        append("loop_")
        buffer.append(Self.newline)
        for (index, name) in table.columnNames.enumerated() {
            try checkName(name, what: "column", in: label)
            buffer.append(UInt8(ascii: "_"))
            append(name)
            append(" #\(index + 1)")
            buffer.append(Self.newline)
        }

        // Pass 1: widths and alignment per column (and every check, so nothing is written for a bad table).
        let columnCount = table.columnCount
        var widths = [Int](repeating: 0, count: columnCount)
        var numeric = [Bool](repeating: true, count: columnCount)
        var plain = [Bool](repeating: true, count: columnCount)  // no value of the column needs quotes
        for (r, row) in table.rows.enumerated() {
            guard row.count == columnCount else {
                throw DuetError("cannot write \(label): row \(r + 1) has \(row.count) values for \(columnCount) columns")
            }
            for c in 0..<columnCount {
                let value = row[c]
                if let fast = plainForm(value) {
                    widths[c] = max(widths[c], fast.length)
                    if !fast.numeric { numeric[c] = false }
                } else {
                    let form = try valueForm(value, in: label, column: table.columnNames[c], row: r)
                    widths[c] = max(widths[c], form.length)
                    if !form.numeric { numeric[c] = false }
                    if form.quote != 0 { plain[c] = false }
                }
            }
        }
        // Pass 2: the rows.
        for row in table.rows {
            for c in 0..<columnCount {
                let value = row[c]
                let quote = plain[c] ? 0 : quickForm(value).quote
                let length = value.utf8.count + (quote == 0 ? 0 : 2)
                let padding = widths[c] - length
                if c > 0 { buffer.append(Self.space) }
                if numeric[c] { pad(padding) }
                appendValue(value, quote: quote)
                if !numeric[c], c + 1 < columnCount { pad(padding) }
            }
            buffer.append(Self.newline)
            if buffer.count >= flushThreshold { try flush() }
        }
        buffer.append(Self.newline)
    }

    // MARK: Values

    /// How a value is written: the quote byte (0 for none), the written length, and whether it looks numeric.
    private struct ValueForm {
        var quote: UInt8
        var length: Int
        var numeric: Bool
    }

    /// The form of a value, after checking that STAR can hold it.
    private func valueForm(_ value: String, in label: String, column: String, row: Int?) throws -> ValueForm {
        let form = quickForm(value)
        if form.quote == 0xFF {
            let place = row.map { "column _\(column), row \($0 + 1)" } ?? "item _\(column)"
            let shown = value.count > 60 ? String(value.prefix(57)) + "..." : value
            throw DuetError("cannot write \(label), \(place): the value \(shown.debugDescription) has a line break "
                + "or both quote characters followed by whitespace, which STAR cannot hold")
        }
        return form
    }

    /// The length and alignment of a value that needs no quotes, or nil when it may need them (then
    /// `quickForm` decides). This is the common case, so it is one table look-up per byte.
    @inline(__always)
    private func plainForm(_ value: String) -> (length: Int, numeric: Bool)? {
        let table = classes.table
        let result = value.utf8.withContiguousStorageIfAvailable { bytes -> (length: Int, numeric: Bool)? in
            let count = bytes.count
            guard count > 0 else { return nil }
            var any: UInt8 = 0
            var all: UInt8 = 0xFF
            for byte in bytes {
                let bits = table[Int(byte)]
                any |= bits
                all &= bits
            }
            if any & ByteClasses.specialByte != 0 || bytes[0] == UInt8(ascii: "_") { return nil }
            if all & ByteClasses.numberByte != 0 { return (count, true) }
            if count >= 5, Self.startsWithKeyword(bytes) { return nil }
            return (count, Self.isNumberWord(bytes))
        }
        return result ?? nil
    }

    /// Whether the bytes are nan or inf spelled out (any case, optional sign), which read as numbers.
    private static func isNumberWord(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count <= 9, [UInt8(ascii: "n"), UInt8(ascii: "i"), UInt8(ascii: "-"), UInt8(ascii: "+")]
            .contains(bytes[0] | 0x20) else { return false }
        return ["nan", "inf", "-inf", "+inf", "infinity", "-infinity", "+infinity", "-nan", "+nan"]
            .contains(String(decoding: bytes, as: UTF8.self).lowercased())
    }

    /// The form of a value; `quote == 0xFF` marks a value that cannot be written.
    private func quickForm(_ value: String) -> ValueForm {
        var copy = value
        return copy.withUTF8 { bytes -> ValueForm in
            let count = bytes.count
            if count == 0 { return ValueForm(quote: Self.doubleQuote, length: 2, numeric: false) }
            var needsQuote = false
            var doubleThenSpace = false
            var singleThenSpace = false
            var numeric = true
            for i in 0..<count {
                let byte = bytes[i]
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "+"),
                     UInt8(ascii: "e"), UInt8(ascii: "E"):
                    continue
                case 0x0A:
                    return ValueForm(quote: 0xFF, length: 0, numeric: false)
                case 0x20, 0x09, 0x0D, 0x0B, 0x0C:
                    needsQuote = true
                    if i > 0 {
                        if bytes[i - 1] == Self.doubleQuote { doubleThenSpace = true }
                        if bytes[i - 1] == Self.singleQuote { singleThenSpace = true }
                    }
                case UInt8(ascii: "#"):
                    needsQuote = true
                default:
                    break
                }
                numeric = false
            }
            let first = bytes[0]
            if first == Self.doubleQuote || first == Self.singleQuote || first == UInt8(ascii: "_") {
                needsQuote = true
            } else if count >= 5, Self.startsWithKeyword(bytes) {
                needsQuote = true
            }
            if numeric { return ValueForm(quote: 0, length: count, numeric: true) }
            let isWord = Self.isNumberWord(bytes)
            if !needsQuote { return ValueForm(quote: 0, length: count, numeric: isWord) }
            if !doubleThenSpace { return ValueForm(quote: Self.doubleQuote, length: count + 2, numeric: false) }
            if !singleThenSpace { return ValueForm(quote: Self.singleQuote, length: count + 2, numeric: false) }
            return ValueForm(quote: 0xFF, length: 0, numeric: false)
        }
    }

    /// Whether the bytes start with a STAR keyword (`data_`, `loop_`, `save_`, `stop_`, `global_`, any case),
    /// which a reader would take for structure rather than a value.
    private static func startsWithKeyword(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        func matches(_ keyword: StaticString) -> Bool {
            let length = keyword.utf8CodeUnitCount
            guard bytes.count >= length else { return false }
            for j in 0..<length where bytes[j] | 0x20 != keyword.utf8Start[j] | 0x20 { return false }
            return true
        }
        switch bytes[0] | 0x20 {
        case UInt8(ascii: "d"): return matches("data_")
        case UInt8(ascii: "l"): return matches("loop_")
        case UInt8(ascii: "s"): return matches("save_") || matches("stop_")
        case UInt8(ascii: "g"): return matches("global_")
        default: return false
        }
    }

    @inline(__always)
    private mutating func appendValue(_ value: String, quote: UInt8) {
        if quote != 0 { buffer.append(quote) }
        append(value)
        if quote != 0 { buffer.append(quote) }
    }

    private func checkName(_ name: String, what: String, in label: String) throws {
        if name.isEmpty { throw DuetError("cannot write \(label): an \(what) name is empty") }
        if name.utf8.contains(where: { isWhitespace($0) || $0 == UInt8(ascii: "#") }) {
            throw DuetError("cannot write \(label): the \(what) name \(name.debugDescription) contains whitespace or '#'")
        }
    }

    // MARK: Bytes

    private func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == 0x0B || byte == 0x0C
    }

    @inline(__always)
    private mutating func append(_ text: String) {
        let done: Void? = text.utf8.withContiguousStorageIfAvailable { buffer.append(contentsOf: $0) }
        if done == nil { Array(text.utf8).withUnsafeBufferPointer { buffer.append(contentsOf: $0) } }
    }

    @inline(__always)
    private mutating func pad(_ count: Int) {
        for _ in 0..<max(count, 0) { buffer.append(Self.space) }
    }
}
