import DuetCore
import Foundation

/// A parsed RELION STAR file: an ordered list of data blocks, exactly as they appear in the file.
///
/// Conventions:
/// - Every value is kept as the text that was in the file (quotes removed, nothing else changed), so a document
///   read by `StarReader` and written by `StarWriter` keeps every column and every digit.
/// - Names carry no leading markers: a block written `data_optics` is named `"optics"` (`data_` alone gives `""`),
///   a key or column written `_rlnDefocusU` is named `"rlnDefocusU"`.
/// - Block names may repeat; `block(named:)` returns the first block with the name.
/// - `sourceName` (the path or label the document was read from) is used only in error messages: it is not part
///   of equality and is never written.
/// - RELION 3.0 files have one block (usually `data_` or `data_images`); RELION 3.1+ files have `data_optics` and
///   `data_particles` (in either order). This type does not interpret labels; it only stores them.
public struct StarDocument: Sendable, Equatable, CustomStringConvertible {
    /// The data blocks, in file order.
    public var blocks: [StarBlock]
    /// The file path or label the document came from, for error messages (empty when built in memory).
    public var sourceName: String

    /// Creates a document from blocks. `sourceName` is used only in error messages.
    public init(blocks: [StarBlock] = [], sourceName: String = "") {
        self.blocks = blocks
        self.sourceName = sourceName
    }

    /// The first block named `name` (the text after `data_`), or nil.
    public func block(named name: String) -> StarBlock? {
        blocks.first { $0.name == name }
    }

    /// The index in `blocks` of the first block named `name`, or nil.
    public func blockIndex(named name: String) -> Int? {
        blocks.firstIndex { $0.name == name }
    }

    /// The first block named `name`; throws a `DuetError` naming the file and the blocks present when absent.
    public func requiredBlock(named name: String) throws -> StarBlock {
        if let block = block(named: name) { return block }
        let present = blocks.map { "data_\($0.name)" }.joined(separator: ", ")
        throw DuetError("\(StarDocument.label(sourceName)): no block data_\(name) (blocks: \(present.isEmpty ? "none" : present))")
    }

    /// Replaces the first block with the same name as `block`, or appends it when there is none.
    public mutating func setBlock(_ block: StarBlock) {
        if let index = blockIndex(named: block.name) {
            blocks[index] = block
        } else {
            blocks.append(block)
        }
    }

    /// Documents are equal when their blocks are equal, in order; `sourceName` is ignored.
    public static func == (lhs: StarDocument, rhs: StarDocument) -> Bool {
        lhs.blocks == rhs.blocks
    }

    /// A one-line summary: source and each block's name and size.
    public var description: String {
        let parts = blocks.map { block -> String in
            var text = "data_\(block.name)"
            if !block.pairs.isEmpty { text += " \(block.pairs.count) items" }
            if let table = block.table { text += " loop \(table.rowCount)×\(table.columnCount)" }
            return text
        }
        return "StarDocument(\(StarDocument.label(sourceName)): \(parts.joined(separator: "; ")))"
    }

    /// How a source is named in messages: the path, or `<memory>` when there is none.
    static func label(_ sourceName: String) -> String {
        sourceName.isEmpty ? "<memory>" : sourceName
    }
}

/// One `_key value` item of a data block outside any loop. `key` has no leading underscore (e.g. `rlnPixelSize`);
/// `value` is the text from the file with quotes removed.
public struct StarPair: Sendable, Equatable, Hashable {
    /// The item name without the leading underscore.
    public var key: String
    /// The value text, unquoted, otherwise as in the file.
    public var value: String

    /// Creates an item; `key` without the leading underscore.
    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// One data block (`data_name`): ordered key–value items and at most one loop table.
///
/// Conventions: `name` is the text after `data_` (may be empty); keys and column names carry no leading underscore;
/// values are unquoted text. In the file, the items come before the loop. `sourceName` (the file the block came
/// from) only feeds error messages and is not part of equality.
public struct StarBlock: Sendable, Equatable {
    /// The block name: the text after `data_` (may be empty).
    public var name: String
    /// The non-loop `_key value` items, in file order.
    public var pairs: [StarPair]
    /// The block's `loop_` table, or nil when the block has none.
    public var table: StarTable?
    /// The file path or label the block came from, for error messages (empty when built in memory).
    public var sourceName: String

    /// Creates a block. `name` is the text after `data_`; `sourceName` is used only in error messages.
    public init(name: String, pairs: [StarPair] = [], table: StarTable? = nil, sourceName: String = "") {
        self.name = name
        self.pairs = pairs
        self.table = table
        self.sourceName = sourceName
    }

    /// The value of the first item with `key` (no leading underscore), or nil.
    public func value(forKey key: String) -> String? {
        pairs.first { $0.key == key }?.value
    }

    /// Sets the value of the first item with `key`, or appends a new item.
    public mutating func setValue(_ value: String, forKey key: String) {
        if let index = pairs.firstIndex(where: { $0.key == key }) {
            pairs[index].value = value
        } else {
            pairs.append(StarPair(key: key, value: value))
        }
    }

    /// The item `key` as a number, nil when absent; throws a `DuetError` naming file, block and key when the
    /// value is not a number.
    public func doubleValue(forKey key: String) throws -> Double? {
        guard let text = value(forKey: key) else { return nil }
        guard let number = StarBlock.parseDouble(text) else {
            throw DuetError("\(StarDocument.label(sourceName)): block data_\(name), item _\(key): '\(text)' is not a number")
        }
        return number
    }

    /// The index of `column` in the loop table, or nil (no table, or no such column).
    public func columnIndex(_ column: String) -> Int? {
        table?.columnIndex(column)
    }

    /// The values of loop column `column` (no leading underscore), top to bottom, or nil when absent.
    public func column(_ column: String) -> [String]? {
        table?.column(column)
    }

    /// Loop column `column` as numbers, or nil when the block has no such column. Throws a `DuetError` naming
    /// the file, block, column and (1-based) row when a value is not a finite number (no particle column holds
    /// a NaN or infinity).
    public func doubleColumn(_ column: String) throws -> [Double]? {
        guard let table, let index = table.columnIndex(column) else { return nil }
        var result = [Double]()
        result.reserveCapacity(table.rowCount)
        for (rowIndex, row) in table.rows.enumerated() {
            guard let number = StarBlock.parseDouble(row[index]), number.isFinite else {
                throw DuetError("\(StarDocument.label(sourceName)): block data_\(name), column _\(column), "
                    + "row \(rowIndex + 1): '\(row[index])' is not a finite number")
            }
            result.append(number)
        }
        return result
    }

    /// Loop column `column` as numbers; throws a `DuetError` when the column is missing or a value is not a number.
    public func requiredDoubleColumn(_ column: String) throws -> [Double] {
        if let values = try doubleColumn(column) { return values }
        throw missingColumn(column)
    }

    /// Loop column `column` as integers (text like `2` or `2.000000`), or nil when absent. Throws a `DuetError`
    /// naming file, block, column and (1-based) row when a value is not an integer.
    public func intColumn(_ column: String) throws -> [Int]? {
        guard let table, let index = table.columnIndex(column) else { return nil }
        var result = [Int]()
        result.reserveCapacity(table.rowCount)
        for (rowIndex, row) in table.rows.enumerated() {
            let text = row[index]
            if let integer = Int(text) {
                result.append(integer)
            } else if let number = StarBlock.parseDouble(text), number.rounded() == number, abs(number) < 9.0e15 {
                result.append(Int(number))
            } else {
                throw DuetError("\(StarDocument.label(sourceName)): block data_\(name), column _\(column), "
                    + "row \(rowIndex + 1): '\(text)' is not an integer")
            }
        }
        return result
    }

    /// Loop column `column` as text; throws a `DuetError` naming file and block when it is missing.
    public func requiredColumn(_ column: String) throws -> [String] {
        if let values = self.column(column) { return values }
        throw missingColumn(column)
    }

    /// Blocks are equal when name, items and table are equal; `sourceName` is ignored.
    public static func == (lhs: StarBlock, rhs: StarBlock) -> Bool {
        lhs.name == rhs.name && lhs.pairs == rhs.pairs && lhs.table == rhs.table
    }

    private func missingColumn(_ column: String) -> DuetError {
        let location = "\(StarDocument.label(sourceName)): block data_\(name)"
        guard let table else { return DuetError("\(location) has no loop_ table (looking for column _\(column))") }
        let shown = table.columnNames.prefix(40).map { "_" + $0 }.joined(separator: " ")
        return DuetError("\(location) has no column _\(column) (columns: \(shown))")
    }

    /// Parses a STAR number: decimal or exponent notation, `nan`, `inf`; surrounding whitespace is not allowed.
    static func parseDouble(_ text: String) -> Double? {
        Double(text)
    }
}

/// A `loop_` table: ordered column names (no leading underscore, e.g. `rlnDefocusU`) and rows of unquoted text
/// values. Every row has exactly `columnNames.count` values (the reader guarantees it; the writer checks it).
public struct StarTable: Sendable, Equatable {
    /// Column names without the leading underscore, in file order.
    public private(set) var columnNames: [String]
    /// Rows top to bottom; `rows[r][c]` is the value of column `columnNames[c]` in row `r`.
    public var rows: [[String]]
    private var indexByName: [String: Int]

    /// Creates a table. Column names without the leading underscore; each row should have one value per column.
    public init(columnNames: [String], rows: [[String]] = []) {
        self.columnNames = columnNames
        self.rows = rows
        self.indexByName = StarTable.makeIndex(columnNames)
    }

    /// Number of rows.
    public var rowCount: Int { rows.count }
    /// Number of columns.
    public var columnCount: Int { columnNames.count }

    /// The index of the first column named `name` (no leading underscore), or nil.
    public func columnIndex(_ name: String) -> Int? {
        indexByName[name]
    }

    /// The values of column `name`, top to bottom, or nil when absent.
    public func column(_ name: String) -> [String]? {
        guard let index = indexByName[name] else { return nil }
        return rows.map { $0[index] }
    }

    /// The value at `row` (0-based) in column `name`, or nil when the column is absent.
    public func value(row: Int, column name: String) -> String? {
        guard let index = indexByName[name] else { return nil }
        return rows[row][index]
    }

    /// Replaces column `name` with `values` (one per row), or appends it as a new last column. When the table has
    /// no rows yet, `values.count` rows are created (empty strings in the other columns). Throws a `DuetError`
    /// when the count differs from the number of rows.
    public mutating func setColumn(_ name: String, to values: [String]) throws {
        if rows.isEmpty && !values.isEmpty {
            rows = Array(repeating: Array(repeating: "", count: columnNames.count), count: values.count)
        }
        guard values.count == rows.count else {
            throw DuetError("column _\(name): \(values.count) values for a table of \(rows.count) rows")
        }
        if let index = indexByName[name] {
            for r in rows.indices { rows[r][index] = values[r] }
        } else {
            indexByName[name] = columnNames.count
            columnNames.append(name)
            for r in rows.indices { rows[r].append(values[r]) }
        }
    }

    /// Removes column `name` if present.
    public mutating func removeColumn(_ name: String) {
        guard let index = indexByName[name] else { return }
        columnNames.remove(at: index)
        for r in rows.indices { rows[r].remove(at: index) }
        indexByName = StarTable.makeIndex(columnNames)
    }

    /// Tables are equal when column names and rows are equal.
    public static func == (lhs: StarTable, rhs: StarTable) -> Bool {
        lhs.columnNames == rhs.columnNames && lhs.rows == rhs.rows
    }

    private static func makeIndex(_ names: [String]) -> [String: Int] {
        var index = [String: Int](minimumCapacity: names.count)
        for (i, name) in names.enumerated() where index[name] == nil { index[name] = i }
        return index
    }
}
