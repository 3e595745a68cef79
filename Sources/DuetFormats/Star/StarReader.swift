import DuetCore
import Dispatch
import Foundation

/// Reads RELION STAR files (RELION 3.0 single-block files and 3.1+ files with `data_optics` and `data_particles`
/// in either order, plus RELION model/optimiser/sampling/pipeline files) into a `StarDocument`.
///
/// Syntax accepted, line by line (UTF-8 or ASCII; `\n` or `\r\n` line ends; a leading byte-order mark is skipped):
/// - `data_NAME` starts a block (the name is the rest of the word, possibly empty); `loop_` starts the block's
///   table; `_name value` is an item; `_name` lines after `loop_` are the column headers (anything after a `#`
///   on them, such as RELION's `#3`, is a comment); every other line of a loop is one row, one value per column.
///   An `_name value` line after a loop's rows is an item of the same block.
/// - `#` at the start of a word starts a comment that runs to the end of the line; blank lines are ignored.
/// - A value may be quoted with `'…'` or `"…"` (to hold spaces, or to be empty); the quote closes at a matching
///   quote followed by whitespace or the line end. Quotes are removed; everything else is kept as written.
/// - The keywords `data_` and `loop_` are matched without regard to case. Bytes that are not valid UTF-8 are
///   replaced by U+FFFD in the values.
///
/// Errors (all `DuetError`, one line, naming the file and the 1-based line): a loop row with the wrong number of
/// values, a value outside any block or loop, a `loop_` without columns, a second `loop_` in one block, an
/// unterminated quote, an item without a value; and, for `read(path:)`, an empty path or an unreadable file.
///
/// Speed: the bytes are split into line-aligned chunks that are tokenized in parallel (large inputs only), then
/// assembled in order; about 10⁶ rows × 30 columns per second per core in a release build.
public enum StarReader {
    /// Reads and parses the STAR file at `path`. Throws `DuetError` when the path is empty, the file cannot be read,
    /// or the text is malformed (the message names the file and line).
    public static func read(path: String) throws -> StarDocument {
        guard !path.isEmpty else { throw DuetError("cannot read STAR file: the path is empty") }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DuetError("cannot read STAR file \(path): no such file")
        }
        guard !isDirectory.boolValue else { throw DuetError("cannot read STAR file \(path): it is a directory") }
        let data: Data
        do {
            // Mapped, not copied: the parse reads every byte once and keeps only the values it makes.
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw DuetError("cannot read STAR file \(path): \(error.localizedDescription)")
        }
        return try parse(data: data, sourceName: path)
    }

    /// Parses STAR text. `sourceName` (a path or label) is used in error messages and stored in the document.
    public static func parse(text: String, sourceName: String = "<text>") throws -> StarDocument {
        var text = text
        return try text.withUTF8 { buffer in
            try parse(bytes: UnsafeRawBufferPointer(buffer), sourceName: sourceName)
        }
    }

    /// Parses STAR text given as UTF-8 bytes. `sourceName` is used in error messages and stored in the document.
    public static func parse(data: Data, sourceName: String) throws -> StarDocument {
        try data.withUnsafeBytes { buffer in
            try parse(bytes: buffer, sourceName: sourceName)
        }
    }

    /// Parses STAR text given as UTF-8 bytes in memory (valid for the duration of the call).
    public static func parse(bytes: UnsafeRawBufferPointer, sourceName: String) throws -> StarDocument {
        try parse(bytes: bytes, sourceName: sourceName, chunkCount: nil)
    }

    /// As `parse(bytes:sourceName:)`; `chunkCount` forces the number of parallel chunks (for tests), where nil
    /// picks it from the input size and the core count.
    static func parse(bytes: UnsafeRawBufferPointer, sourceName: String, chunkCount: Int?) throws -> StarDocument {
        guard let raw = bytes.baseAddress, bytes.count > 0 else {
            return StarDocument(blocks: [], sourceName: sourceName)
        }
        var base = raw.assumingMemoryBound(to: UInt8.self)
        var count = bytes.count
        if count >= 3, base[0] == 0xEF, base[1] == 0xBB, base[2] == 0xBF {  // UTF-8 byte-order mark
            base += 3
            count -= 3
        }
        let chunks = StarLineTokenizer.tokenizeInChunks(base: base, count: count, forcedParts: chunkCount)
        var assembler = StarAssembler(sourceName: sourceName)
        return try assembler.assemble(chunks)
    }
}

// MARK: - Phase 1: lines to words (parallel over chunks)

/// One non-blank line, cut into its values.
private struct StarLine {
    enum Kind: UInt8 {
        case dataBlock   // first word `data_…` (values[0] is the name after `data_`)
        case loop        // first word `loop_`
        case name        // first word `_…`, unquoted (values[0] is the name without `_`)
        case other       // anything else: a loop row, or an error outside a loop
    }

    /// 1-based line number within its chunk (made absolute by the assembler).
    var line: Int
    var kind: Kind
    /// Whether the first word was quoted (only used for messages).
    var firstQuoted: Bool
    /// The words, quotes removed (see `Kind` for the first word).
    var values: [String]
}

/// The lines of one chunk, and the tokenizing error that stopped it, if any.
private struct StarChunk {
    var lines: [StarLine] = []
    /// Number of lines in the chunk (blank and comment lines included).
    var lineCount = 0
    /// An error at 1-based line `line` of the chunk; lines before it are in `lines`.
    var error: (line: Int, message: String)?
}

/// Wraps a value that is shared between threads with care (disjoint writes, read-only bytes).
private struct UncheckedSendable<Value>: @unchecked Sendable {
    var value: Value
}

/// The [start, end) byte ranges of the words of one line, in storage reused from line to line.
private final class WordRanges {
    private(set) var starts: UnsafeMutablePointer<Int>
    private(set) var ends: UnsafeMutablePointer<Int>
    private var capacity = 64
    var count = 0

    init() {
        starts = .allocate(capacity: capacity)
        ends = .allocate(capacity: capacity)
    }

    deinit {
        starts.deallocate()
        ends.deallocate()
    }

    @inline(__always)
    func append(start: Int, end: Int) {
        if count == capacity { grow() }
        starts[count] = start
        ends[count] = end
        count += 1
    }

    private func grow() {
        let newCapacity = capacity * 2
        let newStarts = UnsafeMutablePointer<Int>.allocate(capacity: newCapacity)
        let newEnds = UnsafeMutablePointer<Int>.allocate(capacity: newCapacity)
        newStarts.update(from: starts, count: count)
        newEnds.update(from: ends, count: count)
        starts.deallocate()
        ends.deallocate()
        starts = newStarts
        ends = newEnds
        capacity = newCapacity
    }
}

private enum StarLineTokenizer {
    /// Inputs smaller than this are tokenized on the calling thread.
    static let chunkBytes = 4 << 20

    /// Cuts the bytes into line-aligned chunks and tokenizes them, in parallel when there are several.
    static func tokenizeInChunks(base: UnsafePointer<UInt8>, count: Int, forcedParts: Int?) -> [StarChunk] {
        let cores = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 16))
        let parts = max(1, forcedParts ?? min(cores, count / chunkBytes))
        var bounds = [0]
        for p in 1..<max(parts, 1) {
            var start = max(count * p / parts, bounds[bounds.count - 1])
            if let newline = memchr(base + start, 0x0A, count - start) {
                start = base.distance(to: newline.assumingMemoryBound(to: UInt8.self)) + 1
            } else {
                start = count
            }
            bounds.append(start)
        }
        bounds.append(count)
        let chunkCount = bounds.count - 1
        if chunkCount == 1 {
            return [tokenize(base: base, from: 0, to: count)]
        }
        let results = UnsafeMutableBufferPointer<StarChunk>.allocate(capacity: chunkCount)
        results.initialize(repeating: StarChunk())
        defer { results.deinitialize().deallocate() }
        let shared = UncheckedSendable(value: (base, results, bounds))
        DispatchQueue.concurrentPerform(iterations: chunkCount) { index in
            let (base, results, bounds) = shared.value
            results[index] = tokenize(base: base, from: bounds[index], to: bounds[index + 1])
        }
        return Array(results)
    }

    @inline(__always)
    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D || byte == 0x0B || byte == 0x0C
    }

    /// Tokenizes bytes [from, to), which start at a line start and end after a newline (or at the end of input).
    static func tokenize(base: UnsafePointer<UInt8>, from: Int, to end: Int) -> StarChunk {
        var chunk = StarChunk()
        chunk.lines.reserveCapacity(max(16, (end - from) / 200))
        let words = WordRanges()
        var firstQuoted = false
        var i = from
        var line = 0
        while i < end {
            line += 1
            words.count = 0
            // Words of one line.
            words: while true {
                while i < end {
                    let byte = base[i]
                    if byte == 0x20 || (byte <= 0x0D && byte >= 0x09 && byte != 0x0A) { i += 1 } else { break }
                }
                if i >= end { break words }
                let byte = base[i]
                if byte == 0x0A { i += 1; break words }
                if byte == UInt8(ascii: "#") {
                    if let newline = memchr(base + i, 0x0A, end - i) {
                        i = base.distance(to: newline.assumingMemoryBound(to: UInt8.self)) + 1
                    } else {
                        i = end
                    }
                    break words
                }
                if byte == UInt8(ascii: "'") || byte == UInt8(ascii: "\"") {
                    var k = i + 1
                    while true {
                        if k >= end || base[k] == 0x0A {
                            let kind = byte == UInt8(ascii: "'") ? "single" : "double"
                            chunk.error = (line, "unterminated \(kind)-quoted value")
                            chunk.lineCount = line
                            return chunk
                        }
                        if base[k] == byte, k + 1 == end || isWhitespace(base[k + 1]) { break }
                        k += 1
                    }
                    if words.count == 0 { firstQuoted = true }
                    words.append(start: i + 1, end: k)
                    i = k + 1
                } else {
                    if words.count == 0 { firstQuoted = false }
                    let k = wordEnd(base, from: i + 1, to: end)
                    words.append(start: i, end: k)
                    i = k
                }
            }
            if words.count > 0 {
                chunk.lines.append(makeLine(base, line: line, words: words, firstQuoted: firstQuoted))
            }
        }
        chunk.lineCount = line
        return chunk
    }

    /// The index of the first whitespace byte at or after `from` (or `end`). Scans eight bytes at a time.
    @inline(__always)
    static func wordEnd(_ base: UnsafePointer<UInt8>, from: Int, to end: Int) -> Int {
        var k = from
        while true {
            while k + 8 <= end {
                let word = UInt64(littleEndian: UnsafeRawPointer(base + k).loadUnaligned(as: UInt64.self))
                // High bit set in each byte below 0x21 (the first flagged byte is exact).
                let low = (word &- 0x2121_2121_2121_2121) & ~word & 0x8080_8080_8080_8080
                if low != 0 {
                    k += low.trailingZeroBitCount >> 3
                    break
                }
                k += 8
            }
            while k < end, base[k] > 0x20 { k += 1 }
            if k < end, !isWhitespace(base[k]) {
                k += 1  // a control byte inside a word: part of it
                continue
            }
            return k
        }
    }

    private static func makeLine(_ base: UnsafePointer<UInt8>, line: Int, words: WordRanges,
                                 firstQuoted: Bool) -> StarLine {
        let starts = words.starts
        let ends = words.ends
        var kind = StarLine.Kind.other
        var firstStart = starts[0]
        if !firstQuoted {
            let length = ends[0] - starts[0]
            if length >= 5, matches(base + starts[0], "data_") {
                kind = .dataBlock
                firstStart += 5
            } else if length == 5, matches(base + starts[0], "loop_") {
                kind = .loop
            } else if base[starts[0]] == UInt8(ascii: "_") {
                kind = .name
                firstStart += 1
            }
        }
        let count = words.count
        let values = [String](unsafeUninitializedCapacity: count) { buffer, initialized in
            for j in 0..<count {
                let start = j == 0 ? firstStart : starts[j]
                (buffer.baseAddress! + j).initialize(to: String(
                    decoding: UnsafeBufferPointer(start: base + start, count: ends[j] - start), as: UTF8.self))
            }
            initialized = count
        }
        return StarLine(line: line, kind: kind, firstQuoted: firstQuoted, values: values)
    }

    /// Whether the bytes at `pointer` spell `keyword` (ASCII, any case).
    @inline(__always)
    private static func matches(_ pointer: UnsafePointer<UInt8>, _ keyword: StaticString) -> Bool {
        let expected = keyword.utf8Start
        for j in 0..<keyword.utf8CodeUnitCount where pointer[j] | 0x20 != expected[j] | 0x20 {
            // `| 0x20` folds ASCII letters to lower case; '_' (0x5F) becomes 0x7F on both sides.
            return false
        }
        return true
    }
}

// MARK: - Phase 2: lines to blocks (in order)

private struct StarAssembler {
    private enum State {
        case beforeFirstBlock
        case items       // inside a block, outside a loop
        case loopHeader  // after loop_, reading _column lines
        case loopRows    // reading rows
    }

    private let sourceName: String
    private var state = State.beforeFirstBlock
    private var lineNumber = 0
    private var blocks: [StarBlock] = []

    // The block being built.
    private var blockName = ""
    private var pairs: [StarPair] = []
    private var hasTable = false
    private var columnNames: [String] = []
    private var rows: [[String]] = []
    private var loopLine = 0

    init(sourceName: String) {
        self.sourceName = sourceName
    }

    mutating func assemble(_ chunks: [StarChunk]) throws -> StarDocument {
        var linesBefore = 0
        for chunk in chunks {
            if state == .loopRows || state == .loopHeader { rows.reserveCapacity(rows.count + chunk.lines.count) }
            for line in chunk.lines {
                lineNumber = linesBefore + line.line
                try handle(line)
            }
            if let failure = chunk.error {
                lineNumber = linesBefore + failure.line
                throw error(failure.message)
            }
            linesBefore += chunk.lineCount
        }
        lineNumber = linesBefore
        try finishBlock()
        return StarDocument(blocks: blocks, sourceName: sourceName)
    }

    private mutating func handle(_ line: StarLine) throws {
        switch line.kind {
        case .dataBlock:
            guard line.values.count == 1 else {
                throw error("unexpected text after 'data_\(line.values[0])': a data_ line holds only the block name")
            }
            try finishBlock()
            blockName = line.values[0]
            state = .items
        case .loop:
            guard state != .beforeFirstBlock else { throw error("loop_ before any data_ block") }
            guard !hasTable else {
                throw error("second loop_ in block data_\(blockName) (the first began on line \(loopLine)); "
                    + "one loop per block is supported")
            }
            guard line.values.count == 1 else { throw error("unexpected text after loop_") }
            hasTable = true
            loopLine = lineNumber
            state = .loopHeader
        case .name:
            switch state {
            case .beforeFirstBlock:
                throw error("'_\(line.values[0])' is outside any data_ block")
            case .loopHeader:
                guard line.values.count == 1 else {
                    throw error("loop column header _\(line.values[0]) is followed by "
                        + "'\(shown(line.values[1]))' (only a #comment may follow a column name)")
                }
                columnNames.append(line.values[0])
            case .items, .loopRows:
                // After a loop's rows, an item belongs to the block again.
                state = .items
                guard line.values.count == 2 else {
                    if line.values.count == 1 { throw error("item _\(line.values[0]) has no value") }
                    throw error("item _\(line.values[0]) has \(line.values.count - 1) values, expected 1 "
                        + "(quote a value that contains spaces)")
                }
                pairs.append(StarPair(key: line.values[0], value: line.values[1]))
            }
        case .other:
            switch state {
            case .beforeFirstBlock:
                throw error("'\(shown(line.values[0], quoted: line.firstQuoted))' is outside any data_ block")
            case .items:
                throw error("value '\(shown(line.values[0], quoted: line.firstQuoted))' is outside any loop_ "
                    + "(expected _name value, loop_ or data_)")
            case .loopHeader:
                try checkColumns()
                state = .loopRows
                try appendRow(line.values)
            case .loopRows:
                try appendRow(line.values)
            }
        }
    }

    private mutating func appendRow(_ values: [String]) throws {
        guard values.count == columnNames.count else {
            throw error("loop row has \(values.count) values but block data_\(blockName) has \(columnNames.count) "
                + "columns (loop_ on line \(loopLine))")
        }
        rows.append(values)
    }

    private func checkColumns() throws {
        guard !columnNames.isEmpty else {
            throw error("loop_ on line \(loopLine) in block data_\(blockName) has no columns")
        }
    }

    private mutating func finishBlock() throws {
        switch state {
        case .beforeFirstBlock:
            return
        case .loopHeader:
            try checkColumns()
        case .items, .loopRows:
            break
        }
        let table = hasTable ? StarTable(columnNames: columnNames, rows: rows) : nil
        blocks.append(StarBlock(name: blockName, pairs: pairs, table: table, sourceName: sourceName))
        blockName = ""
        pairs = []
        hasTable = false
        columnNames = []
        rows = []
        state = .beforeFirstBlock
    }

    /// A value for a message: shortened, and quoted if it was.
    private func shown(_ value: String, quoted: Bool = false) -> String {
        let short = value.count > 60 ? String(value.prefix(57)) + "..." : value
        return quoted ? "\"\(short)\"" : short
    }

    private func error(_ message: String) -> DuetError {
        DuetError("STAR file \(StarDocument.label(sourceName)), line \(lineNumber): \(message)")
    }
}
