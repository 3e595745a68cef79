import DuetCore
@testable import DuetFormats
import DuetTestSupport
import Foundation
import XCTest

/// Shared helpers for the STAR tests: the fixtures in `CommandRunner.fixtures` and the Python `starfile` oracle.
enum StarTestSupport {
    /// The deliberate negative case: a loop row with one value too many (line 20).
    static let negativeFixture = CommandRunner.fixtures.appendingPathComponent("aspire/metadata/sample.star").path

    /// Every `*.star` file under `Tests/Fixtures`, sorted.
    static func allFixtures() throws -> [String] {
        let dataRoot = CommandRunner.fixtures
        guard let enumerator = FileManager.default.enumerator(at: dataRoot, includingPropertiesForKeys: nil) else {
            throw DuetError("cannot list \(dataRoot.path)")
        }
        var paths = [String]()
        for case let url as URL in enumerator where url.pathExtension == "star" {
            paths.append(url.standardizedFileURL.path)
        }
        paths.sort()
        guard paths.count >= 40 else {
            throw DuetError("expected the ~50 STAR fixtures under \(dataRoot.path), found \(paths.count)")
        }
        return paths
    }

    /// The well-formed fixtures (all but the negative case).
    static func goodFixtures() throws -> [String] {
        try allFixtures().filter { $0 != negativeFixture }
    }

    /// What `Tests/Oracles/star_summary.py` prints for one block.
    struct OracleBlock: Decodable, Sendable {
        var name: String
        var kind: String
        var rows: Int
        var columns: [String]
        var sums: [String: Double]
        var first_row: [String?]
    }

    /// What `Tests/Oracles/star_summary.py` prints for one file.
    struct OracleFile: Decodable, Sendable {
        var path: String
        var blocks: [OracleBlock]?
        var error: String?
    }

    /// Runs the oracle on `paths`. Throws (so the calling test FAILS, never skips) when python3 or `starfile` is
    /// missing, or when the oracle cannot read a file and `allowErrors` is false.
    static func oracle(_ paths: [String], allowErrors: Bool = false) throws -> [String: OracleFile] {
        // Status 1: starfile could not read some file; that file's object carries the error.
        let result = try CommandRunner.pythonOutput(
            [CommandRunner.oraclePath("star_summary.py")] + paths,
            needs: "python3 with the Python 'starfile' package (run `python3 -m pip install starfile`)",
            accepting: [0, 1], in: CommandRunner.packageRoot)
        var files = [String: OracleFile]()
        let decoder = JSONDecoder()
        for line in result.stdoutData.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            let file = try decoder.decode(OracleFile.self, from: Data(line))
            if let error = file.error, !allowErrors {
                throw DuetError("starfile could not read \(file.path): \(error)")
            }
            files[file.path] = file
        }
        guard files.count == Set(paths).count else {
            throw DuetError("the STAR oracle answered for \(files.count) of \(paths.count) files; stderr: \(result.stderr)")
        }
        return files
    }

    /// Whether a value read by StarReader matches the oracle's text for it: equal text, or equal numbers (starfile
    /// turns numeric columns into numbers, so `6.000000` comes back as `6.0` and `000001` as `1`), or an empty or
    /// NaN value where the oracle has null (starfile's NaN).
    static func sameValue(_ ours: String, _ theirs: String?) -> Bool {
        guard let theirs else {
            return ours.isEmpty || ["nan", "<na>"].contains(ours.lowercased())
        }
        if ours == theirs { return true }
        if let a = Double(ours), let b = Double(theirs) {
            if a.isNaN && b.isNaN { return true }
            return abs(a - b) <= 1e-12 * max(1, abs(a), abs(b))
        }
        return false
    }

    /// Compares a document with the oracle's view of the same file; returns human-readable differences.
    static func differences(_ document: StarDocument, _ oracle: OracleFile) -> [String] {
        var problems = [String]()
        guard let oracleBlocks = oracle.blocks else { return ["oracle error: \(oracle.error ?? "?")"] }
        var names = [String]()
        for block in document.blocks where !names.contains(block.name) { names.append(block.name) }
        if names != oracleBlocks.map(\.name) {
            problems.append("block names \(names) vs starfile \(oracleBlocks.map(\.name))")
            return problems
        }
        for expected in oracleBlocks {
            // starfile keeps one block per name: the last one.
            guard let block = document.blocks.last(where: { $0.name == expected.name }) else { continue }
            let label = "data_\(expected.name)"
            switch expected.kind {
            case "loop":
                guard let table = block.table else {
                    problems.append("\(label): starfile sees a loop, StarReader none")
                    continue
                }
                if table.columnNames != expected.columns {
                    problems.append("\(label): columns \(table.columnNames) vs \(expected.columns)")
                    continue
                }
                if table.rowCount != expected.rows {
                    problems.append("\(label): \(table.rowCount) rows vs \(expected.rows)")
                }
                for (column, sum) in expected.sums {
                    do {
                        guard let values = try block.doubleColumn(column) else {
                            problems.append("\(label): no column \(column)")
                            continue
                        }
                        let ours = values.reduce(0, +)
                        let scale = values.reduce(0) { $0 + abs($1) }
                        if abs(ours - sum) > 1e-10 * max(1, scale) {
                            problems.append("\(label): sum of \(column) \(ours) vs \(sum)")
                        }
                    } catch {
                        problems.append("\(label): \(error)")
                    }
                }
                if let first = table.rows.first {
                    if first.count != expected.first_row.count {
                        problems.append("\(label): first row has \(first.count) values vs \(expected.first_row.count)")
                    } else {
                        for (i, value) in first.enumerated() where !sameValue(value, expected.first_row[i]) {
                            problems.append("\(label): first row, \(expected.columns[i]): '\(value)' vs "
                                + "'\(expected.first_row[i] ?? "NaN")'")
                        }
                    }
                } else if !expected.first_row.isEmpty {
                    problems.append("\(label): no rows, starfile has a first row")
                }
            case "pairs":
                if block.table != nil { problems.append("\(label): starfile sees items only, StarReader a loop too") }
                let keys = block.pairs.map(\.key)
                if keys != expected.columns {
                    problems.append("\(label): keys \(keys) vs \(expected.columns)")
                    continue
                }
                for (i, pair) in block.pairs.enumerated() where !sameValue(pair.value, expected.first_row[i]) {
                    problems.append("\(label): _\(pair.key) '\(pair.value)' vs '\(expected.first_row[i] ?? "NaN")'")
                }
                for (key, sum) in expected.sums {
                    let ours = (try? block.doubleValue(forKey: key)) ?? nil
                    if ours.map({ abs($0 - sum) > 1e-12 * max(1, abs(sum)) }) ?? true {
                        problems.append("\(label): _\(key) \(String(describing: ours)) vs \(sum)")
                    }
                }
            case "empty":
                if !block.pairs.isEmpty || block.table != nil {
                    problems.append("\(label): starfile sees an empty block, StarReader has content")
                }
            default:
                problems.append("\(label): unknown oracle kind \(expected.kind)")
            }
        }
        return problems
    }

    /// The message of a thrown `DuetError` (fails the test when another error type is thrown).
    static func message(of error: Error, file: StaticString = #filePath, line: UInt = #line) -> String {
        guard let duet = error as? DuetError else {
            XCTFail("expected a DuetError, got \(type(of: error)): \(error)", file: file, line: line)
            return ""
        }
        return duet.message
    }
}

final class StarReaderTests: XCTestCase {
    // MARK: Fixtures against the Python starfile oracle

    func testEveryFixtureMatchesStarfileOracle() throws {
        let paths = try StarTestSupport.goodFixtures()
        let oracle = try StarTestSupport.oracle(paths)
        var checkedBlocks = 0
        for path in paths {
            let document = try StarReader.read(path: path)
            let expected = try XCTUnwrap(oracle[path], "no oracle answer for \(path)")
            let problems = StarTestSupport.differences(document, expected)
            XCTAssert(problems.isEmpty, "\(path):\n  " + problems.joined(separator: "\n  "))
            checkedBlocks += expected.blocks?.count ?? 0
        }
        XCTAssertGreaterThan(checkedBlocks, 60)
    }

    func testNegativeFixtureThrowsNamingFileAndLine() throws {
        let path = StarTestSupport.negativeFixture
        XCTAssertThrowsError(try StarReader.read(path: path)) { error in
            let message = StarTestSupport.message(of: error)
            XCTAssert(message.contains(path), message)
            XCTAssert(message.contains("line 20"), message)  // "Mars  6794  0.38  2  extra"
            XCTAssert(message.contains("5 values"), message)
            XCTAssert(message.contains("4 columns"), message)
            XCTAssertFalse(message.contains("\n"), message)
        }
        // starfile rejects it too.
        let oracle = try StarTestSupport.oracle([path], allowErrors: true)
        XCTAssertNotNil(oracle[path]?.error)
    }

    // MARK: RELION layouts

    func testRelion31OpticsFirstOrSecondGiveSameTables() throws {
        let root = CommandRunner.fixtures.appendingPathComponent("cryodrgn/real")
        let first = try StarReader.read(path: root.appendingPathComponent("relion31.star").path)
        let second = try StarReader.read(path: root.appendingPathComponent("relion31.v2.star").path)
        XCTAssertEqual(first.blocks.map(\.name), ["optics", "particles"])
        XCTAssertEqual(second.blocks.map(\.name), ["particles", "optics"])
        XCTAssertEqual(first.block(named: "optics"), second.block(named: "optics"))
        XCTAssertEqual(first.block(named: "particles"), second.block(named: "particles"))
        let particles = try first.requiredBlock(named: "particles")
        XCTAssertEqual(particles.table?.rowCount, 5)
        XCTAssertEqual(try particles.intColumn("rlnOpticsGroup"), [1, 1, 1, 1, 1])
        XCTAssertEqual(try first.requiredBlock(named: "optics").doubleColumn("rlnImagePixelSize"), [2.806])
    }

    func testSeveralOpticsGroups() throws {
        let path = CommandRunner.fixtures.appendingPathComponent("cryodrgn/metadata/relion31.6opticsgroups.star").path
        let document = try StarReader.read(path: path)
        let optics = try document.requiredBlock(named: "optics")
        XCTAssertEqual(try optics.intColumn("rlnOpticsGroup"), [1, 2, 3, 4, 5, 6])
        let pixel = try optics.requiredDoubleColumn("rlnImagePixelSize")
        XCTAssert(pixel.allSatisfy { $0 >= 1.24 && $0 <= 1.25 }, "\(pixel)")
        let particles = try document.requiredBlock(named: "particles")
        XCTAssertEqual(particles.table?.rowCount, 139)
        let groups = Set(try XCTUnwrap(particles.intColumn("rlnOpticsGroup")))
        XCTAssertEqual(groups, Set(1...6))
    }

    func testRelion30SingleBlock() throws {
        let path = CommandRunner.fixtures.appendingPathComponent("cryodrgn/real/empiar_10076_7.star").path
        let document = try StarReader.read(path: path)
        XCTAssertEqual(document.blocks.count, 1)
        let block = try document.requiredBlock(named: "")
        XCTAssertEqual(block.columnIndex("rlnDefocusU"), 2)
        XCTAssertEqual(block.column("rlnImageName")?.first, "1@empiar_10076_7.mrc")
        XCTAssertEqual(try block.doubleColumn("rlnDefocusU")?.first, 15301.1)
        XCTAssertNil(try block.doubleColumn("rlnNoSuchColumn"))
        XCTAssertNil(document.block(named: "particles"))
        XCTAssertThrowsError(try document.requiredBlock(named: "particles")) { error in
            XCTAssert(StarTestSupport.message(of: error).contains(path))
        }
        XCTAssertThrowsError(try block.requiredDoubleColumn("rlnAngleRot")) { error in
            let message = StarTestSupport.message(of: error)
            XCTAssert(message.contains("rlnAngleRot") && message.contains(path), message)
        }
    }

    func testDoubleColumnErrorNamesFileBlockColumnAndRow() throws {
        let path = CommandRunner.fixtures.appendingPathComponent("starfile/loop_single_quote.star").path
        let block = try StarReader.read(path: path).requiredBlock(named: "")
        XCTAssertEqual(try block.doubleColumn("number"), [6.0, 7.0])
        XCTAssertThrowsError(try block.doubleColumn("number_and_string")) { error in
            let message = StarTestSupport.message(of: error)
            for part in [path, "data_", "_number_and_string", "row 2", "'noquote'"] {
                XCTAssert(message.contains(part), "\(message) lacks \(part)")
            }
        }
        XCTAssertThrowsError(try block.intColumn("number_and_empty")) { error in
            XCTAssert(StarTestSupport.message(of: error).contains("row 2"))
        }
    }

    // MARK: Syntax

    func testQuotedValues() throws {
        let text = """
        data_q
        _plain        noquote
        _double       "quote string"
        _single       'it''s fine'
        _apostrophe   'it's'
        _empty        ""
        _space        ' '
        _hash         "#not a comment"
        loop_
        _a #1
        _b #2
        _c #3
        "a b" '' x   # trailing comment
        'c "d" e' "f'g" ""
        """
        let block = try StarReader.parse(text: text, sourceName: "quoted").requiredBlock(named: "q")
        XCTAssertEqual(block.pairs.map(\.value),
                       ["noquote", "quote string", "it''s fine", "it's", "", " ", "#not a comment"])
        XCTAssertEqual(block.table?.rows, [["a b", "", "x"], ["c \"d\" e", "f'g", ""]])
    }

    func testHeaderIndexCommentsBlankLinesTabsAndComments() throws {
        let text = "# version 30001\n\n\ndata_particles\n\n# a comment\nloop_ \n_rlnImageName #1 \n\n"
            + "_rlnDefocusU #2\t\n\n1@a.mrcs\t15000.5\n  # another comment\n\n2@a.mrcs   16000\n\n"
        let document = try StarReader.parse(text: text)
        let table = try XCTUnwrap(document.block(named: "particles")?.table)
        XCTAssertEqual(table.columnNames, ["rlnImageName", "rlnDefocusU"])
        XCTAssertEqual(table.rows, [["1@a.mrcs", "15000.5"], ["2@a.mrcs", "16000"]])
    }

    func testWindowsLineEndingsAndByteOrderMark() throws {
        let unix = "data_optics\nloop_\n_rlnOpticsGroup #1\n_rlnVoltage #2\n1 300\n2 200\n\ndata_x\n_k 'v w'\n"
        let windows = "\u{FEFF}" + unix.replacingOccurrences(of: "\n", with: "\r\n")
        let a = try StarReader.parse(text: unix)
        let b = try StarReader.parse(text: windows)
        XCTAssertEqual(a, b)
        XCTAssertEqual(b.block(named: "optics")?.table?.rows, [["1", "300"], ["2", "200"]])
        XCTAssertEqual(b.block(named: "x")?.value(forKey: "k"), "v w")
        // Also from a file on disk (the Data path).
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("duet-crlf-\(getpid()).star")
        try Data(windows.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        XCTAssertEqual(try StarReader.read(path: url.path), a)
    }

    func testSingleLineBlocksEmptyLoopsAndEmptyBlockAtEnd() throws {
        let text = """
        data_a
        _x 1
        _y two
        data_b
        loop_
        _c1
        _c2
        data_c
        loop_
        _only
        42
        data_
        """
        let document = try StarReader.parse(text: text)
        XCTAssertEqual(document.blocks.map(\.name), ["a", "b", "c", ""])
        XCTAssertEqual(document.blocks[0].pairs, [StarPair(key: "x", value: "1"), StarPair(key: "y", value: "two")])
        XCTAssertNil(document.blocks[0].table)
        XCTAssertEqual(document.blocks[1].table, StarTable(columnNames: ["c1", "c2"]))
        XCTAssertEqual(document.blocks[2].table?.rows, [["42"]])
        XCTAssertEqual(document.blocks[3], StarBlock(name: ""))
        XCTAssertEqual(try StarReader.parse(text: "").blocks, [])
        XCTAssertEqual(try StarReader.parse(text: "# nothing\n\n").blocks, [])
    }

    func testItemsAfterLoopBelongToBlockAndKeywordsIgnoreCase() throws {
        let document = try StarReader.parse(text: "DATA_t\nLoop_\n_a\n1\n2\n_after value\n")
        let block = try document.requiredBlock(named: "t")
        XCTAssertEqual(block.table?.rows, [["1"], ["2"]])
        XCTAssertEqual(block.value(forKey: "after"), "value")
    }

    // MARK: Malformed input

    private func assertMalformed(_ text: String, line: Int, mentions: String,
                                 file: StaticString = #filePath, sourceLine: UInt = #line) {
        XCTAssertThrowsError(try StarReader.parse(text: text, sourceName: "bad.star"), file: file, line: sourceLine) {
            let message = StarTestSupport.message(of: $0, file: file, line: sourceLine)
            XCTAssert(message.contains("bad.star, line \(line):"), message, file: file, line: sourceLine)
            XCTAssert(message.contains(mentions), message, file: file, line: sourceLine)
            XCTAssertFalse(message.contains("\n"), message, file: file, line: sourceLine)
        }
    }

    func testMalformedInputThrowsWithFileAndLine() {
        assertMalformed("data_\nloop_\n_a\n_b\n1 2\n3\n", line: 6, mentions: "1 values")
        assertMalformed("data_\nloop_\n_a\n_b\n1 2 3\n", line: 5, mentions: "3 values")
        assertMalformed("# c\n\nhello\ndata_\n", line: 3, mentions: "outside any data_ block")
        assertMalformed("_rlnX 1\ndata_\n", line: 1, mentions: "outside any data_ block")
        assertMalformed("data_\n_x 1\nstray\n", line: 3, mentions: "outside any loop_")
        assertMalformed("data_\nloop_\n1 2\n", line: 3, mentions: "has no columns")
        assertMalformed("data_\nloop_\n\n", line: 3, mentions: "has no columns")
        assertMalformed("data_\nloop_\ndata_b\n", line: 3, mentions: "has no columns")
        assertMalformed("data_\nloop_\n_a\n1\nloop_\n_b\n2\n", line: 5, mentions: "second loop_")
        assertMalformed("data_\n_x 'open\n", line: 2, mentions: "unterminated")
        assertMalformed("data_\nloop_\n_a\n\"x\n", line: 4, mentions: "unterminated")
        assertMalformed("data_\n_x\n", line: 2, mentions: "has no value")
        assertMalformed("data_\n_x a b\n", line: 2, mentions: "2 values")
        assertMalformed("data_\nloop_\n_a junk\n", line: 3, mentions: "junk")
        assertMalformed("data_a b\n", line: 1, mentions: "data_")
        assertMalformed("loop_\n_a\n", line: 1, mentions: "before any data_")
    }

    func testUnreadablePathsThrow() throws {
        XCTAssertThrowsError(try StarReader.read(path: "")) {
            XCTAssert(StarTestSupport.message(of: $0).contains("empty"))
        }
        let missing = "/nonexistent/duet/missing.star"
        XCTAssertThrowsError(try StarReader.read(path: missing)) {
            XCTAssert(StarTestSupport.message(of: $0).contains(missing))
        }
        let directory = FileManager.default.temporaryDirectory.path
        XCTAssertThrowsError(try StarReader.read(path: directory)) {
            XCTAssert(StarTestSupport.message(of: $0).contains("directory"))
        }
    }

    // MARK: Parallel chunks

    /// Large inputs are tokenized in line-aligned chunks on several threads: any chunk count gives the same
    /// document, and errors keep their absolute line numbers.
    func testChunkedParsingMatchesSequential() throws {
        func parse(_ data: Data, _ name: String, chunks: Int) throws -> StarDocument {
            try data.withUnsafeBytes { try StarReader.parse(bytes: $0, sourceName: name, chunkCount: chunks) }
        }
        for path in try StarTestSupport.goodFixtures() {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            let sequential = try parse(data, path, chunks: 1)
            for chunks in [2, 3, 7, 64] {
                XCTAssertEqual(try parse(data, path, chunks: chunks), sequential, "\(path) in \(chunks) chunks")
            }
        }
        let negative = try Data(contentsOf: URL(fileURLWithPath: StarTestSupport.negativeFixture))
        for chunks in [1, 2, 5, 30] {
            XCTAssertThrowsError(try parse(negative, "neg.star", chunks: chunks)) {
                XCTAssert(StarTestSupport.message(of: $0).contains("neg.star, line 20:"), "\($0)")
            }
        }
        // An unterminated quote late in the input, and a structural error after it in another chunk: the first wins.
        var text = "data_\nloop_\n_a\n_b\n"
        for i in 0..<300 { text += "\(i) 'v \(i)'\n" }
        let bad = Data((text + "1 'open\n" + "1 2 3\n").utf8)
        for chunks in [1, 2, 4, 9] {
            XCTAssertThrowsError(try parse(bad, "q.star", chunks: chunks)) {
                let message = StarTestSupport.message(of: $0)
                XCTAssert(message.contains("q.star, line 305:") && message.contains("unterminated"), message)
            }
        }
        let noFinalNewline = Data((text + "9 last").utf8)
        for chunks in [1, 3, 11] {
            let table = try XCTUnwrap(parse(noFinalNewline, "n", chunks: chunks).blocks.first?.table)
            XCTAssertEqual(table.rowCount, 301)
            XCTAssertEqual(table.rows.last, ["9", "last"])
            XCTAssertEqual(table.rows[299], ["299", "v 299"])
        }
    }

    // MARK: Size

    /// A large table parses correctly; with `swift test -c release` it is 10⁶ rows × 30 columns and must take well
    /// under the 2 s target (asserted loosely, since the build machine is shared).
    func testLargeTable() throws {
        #if DEBUG
        let rowCount = 20_000
        #else
        let rowCount = 1_000_000
        #endif
        let columnCount = 30
        var text = "# version 30001\n\ndata_particles\n\nloop_\n_rlnImageName #1\n"
        for c in 2...columnCount { text += "_rlnColumn\(c) #\(c)\n" }
        var line = ""
        text.reserveCapacity(rowCount * 300)
        for r in 0..<rowCount {
            line = String(format: "%06d@Extract/job007/Movies/stack_%04d.mrcs", r + 1, r % 1000)
            for c in 2...columnCount { line += " " + String(r % 97) + "." + String(c * 1000 + r % 1000) }
            text += line
            text += "\n"
        }
        let data = Data(text.utf8)
        text = ""
        let start = Date()
        let document = try StarReader.parse(data: data, sourceName: "large")
        let seconds = Date().timeIntervalSince(start)
        print("StarReader: \(rowCount) rows × \(columnCount) columns (\(data.count >> 20) MiB) in "
            + String(format: "%.3f", seconds) + " s")
        let table = try XCTUnwrap(document.block(named: "particles")?.table)
        XCTAssertEqual(table.rowCount, rowCount)
        XCTAssertEqual(table.columnCount, columnCount)
        XCTAssertEqual(table.rows.last?.first, String(format: "%06d@Extract/job007/Movies/stack_%04d.mrcs",
                                                        rowCount, (rowCount - 1) % 1000))
        XCTAssertEqual(table.rows[5][2], "5.3005")
        #if !DEBUG
        XCTAssertLessThan(seconds, 4.0)
        #endif
    }
}
