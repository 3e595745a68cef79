import DuetCore
@testable import DuetFormats
import DuetTestSupport
import Foundation
import XCTest

final class StarWriterTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("duet-star-writer-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    // MARK: Round trips

    /// read → render → parse gives the same document for every fixture, and rendering is stable.
    func testRoundTripEveryFixture() throws {
        for path in try StarTestSupport.goodFixtures() {
            let original = try StarReader.read(path: path)
            let text = try StarWriter.render(original)
            let again = try StarReader.parse(text: text, sourceName: "render of \(path)")
            XCTAssertEqual(again, original, path)
            XCTAssertEqual(try StarWriter.render(again), text, "rendering is not stable for \(path)")
            XCTAssert(text.hasPrefix(StarWriter.versionLine + "\n"), path)
        }
    }

    /// write (atomically, to disk) → read gives the same document, and starfile reads the written file exactly as
    /// it reads the original.
    func testWrittenFixturesReadByStarfileAsOriginals() throws {
        let paths = try StarTestSupport.goodFixtures()
        var written = [String]()
        for (index, path) in paths.enumerated() {
            let document = try StarReader.read(path: path)
            let target = scratch.appendingPathComponent("\(index)-" + URL(fileURLWithPath: path).lastPathComponent).path
            try StarWriter.write(document, to: target)
            XCTAssertEqual(try StarReader.read(path: target), document, path)
            written.append(target)
        }
        let oracle = try StarTestSupport.oracle(paths + written)
        for (path, target) in zip(paths, written) {
            let before = try XCTUnwrap(oracle[path]?.blocks)
            let after = try XCTUnwrap(oracle[target]?.blocks, "starfile could not read the written \(path)")
            XCTAssertEqual(after.map(\.name), before.map(\.name), path)
            for (a, b) in zip(after, before) {
                XCTAssertEqual(a.kind, b.kind, "\(path) data_\(b.name)")
                XCTAssertEqual(a.rows, b.rows, "\(path) data_\(b.name)")
                XCTAssertEqual(a.columns, b.columns, "\(path) data_\(b.name)")
                XCTAssertEqual(a.sums, b.sums, "\(path) data_\(b.name)")
                XCTAssertEqual(a.first_row, b.first_row, "\(path) data_\(b.name)")
            }
            let problems = StarTestSupport.differences(try StarReader.read(path: target), try XCTUnwrap(oracle[target]))
            XCTAssert(problems.isEmpty, "\(target):\n  " + problems.joined(separator: "\n  "))
        }
    }

    /// Values that need quoting come back from both StarReader and starfile unchanged.
    func testAwkwardValuesReadBackByStarfile() throws {
        let awkward = ["with space", "", " ", "#hash", "a#b", "'lead", "\"lead", "_under", "data_like", "loop_",
                       "it's", "say \"hi\" now", "tab\there", "ünïcødé", "end\""]
        var table = StarTable(columnNames: ["rlnImageName", "rlnNote", "rlnDefocusU"])
        for (i, value) in awkward.enumerated() {
            table.rows.append(["\(i + 1)@stack.mrcs", value, String(10000.5 + Double(i))])
        }
        let document = StarDocument(blocks: [
            StarBlock(name: "general", pairs: [StarPair(key: "rlnNote", value: "two words"),
                                               StarPair(key: "rlnEmpty", value: ""),
                                               StarPair(key: "rlnCount", value: "3")]),
            StarBlock(name: "particles", table: table),
        ])
        let path = scratch.appendingPathComponent("awkward.star").path
        try StarWriter.write(document, to: path)
        XCTAssertEqual(try StarReader.read(path: path), document)

        // starfile: the items (a file of their own, since starfile cannot read the quote-laden table, see below),
        // and each awkward value as the first row of a one-row file.
        let generalPath = scratch.appendingPathComponent("general.star").path
        try StarWriter.write(StarDocument(blocks: [document.blocks[0]]), to: generalPath)
        let general = try XCTUnwrap(StarTestSupport.oracle([generalPath])[generalPath]?.blocks?.first)
        XCTAssertEqual(general.columns, ["rlnNote", "rlnEmpty", "rlnCount"])
        XCTAssertEqual(general.first_row, ["two words", "", "3"])
        var singles = [String]()
        for (i, value) in awkward.enumerated() {
            let one = StarDocument(blocks: [StarBlock(name: "particles", table: StarTable(
                columnNames: ["rlnImageName", "rlnNote", "rlnDefocusU"], rows: [["1@s.mrcs", value, "1.5"]]))])
            let onePath = scratch.appendingPathComponent("one-\(i).star").path
            try StarWriter.write(one, to: onePath)
            singles.append(onePath)
        }
        let oracle = try StarTestSupport.oracle(singles, allowErrors: true)
        for (value, onePath) in zip(awkward, singles) {
            XCTAssertEqual(try StarReader.read(path: onePath).blocks.first?.table?.rows.first?[1], value)
            // starfile turns every ' into " and hands the rows to pandas, so a value holding a quote character
            // cannot survive it whatever the quoting; such values are checked with StarReader only.
            if value.contains("'") || value.contains("\"") { continue }
            let block = try XCTUnwrap(oracle[onePath]?.blocks?.first,
                                      "starfile could not read \(value.debugDescription): \(oracle[onePath]?.error ?? "")")
            XCTAssertEqual(block.rows, 1)
            XCTAssertEqual(block.first_row[1], value, "starfile read \(value.debugDescription) differently")
        }
    }

    // MARK: Layout

    func testLayoutIsRelion31Style() throws {
        let document = StarDocument(blocks: [
            StarBlock(name: "optics", table: StarTable(columnNames: ["rlnOpticsGroupName", "rlnOpticsGroup",
                                                                      "rlnVoltage"],
                                                        rows: [["opticsGroup1", "1", "300.000000"],
                                                               ["g2", "2", "200"]])),
            StarBlock(name: "particles", table: StarTable(columnNames: ["rlnImageName"], rows: [])),
        ])
        let text = try StarWriter.render(document)
        let expected = """
        # version 30001

        data_optics

        loop_
        _rlnOpticsGroupName #1
        _rlnOpticsGroup #2
        _rlnVoltage #3
        opticsGroup1 1 300.000000
        g2           2        200


        data_particles

        loop_
        _rlnImageName #1


        """
        XCTAssertEqual(text, expected)
        XCTAssertEqual(try StarReader.parse(text: text), document)
    }

    func testItemsAndEmptyNames() throws {
        let document = StarDocument(blocks: [
            StarBlock(name: "", pairs: [StarPair(key: "rlnFinalResolution", value: "3.2"),
                                        StarPair(key: "rlnMaskName", value: "mask file.mrc")]),
        ])
        let text = try StarWriter.render(document)
        XCTAssert(text.contains("\ndata_\n"), text)
        XCTAssert(text.contains("_rlnMaskName           \"mask file.mrc\"\n"), text)
        XCTAssertEqual(try StarReader.parse(text: text), document)
    }

    func testUnwritableDocumentsThrow() {
        func assertThrows(_ document: StarDocument, mentions: String, line: UInt = #line) {
            XCTAssertThrowsError(try StarWriter.render(document), line: line) {
                let message = StarTestSupport.message(of: $0)
                XCTAssert(message.contains(mentions), message, line: line)
            }
        }
        assertThrows(StarDocument(blocks: [StarBlock(name: "b", pairs: [StarPair(key: "k", value: "a\nb")])]),
                     mentions: "line break")
        assertThrows(StarDocument(blocks: [StarBlock(name: "b", pairs: [StarPair(key: "k", value: "a\" b' c")])]),
                     mentions: "quote")
        assertThrows(StarDocument(blocks: [StarBlock(name: "b", table: StarTable(columnNames: []))]),
                     mentions: "no columns")
        assertThrows(StarDocument(blocks: [StarBlock(name: "b", table: StarTable(columnNames: ["a", "b"],
                                                                                  rows: [["1"]]))]),
                     mentions: "row 1 has 1 values")
        assertThrows(StarDocument(blocks: [StarBlock(name: "b", table: StarTable(columnNames: ["a b"]))]),
                     mentions: "whitespace")
        assertThrows(StarDocument(blocks: [StarBlock(name: "two words")]), mentions: "block name")
        XCTAssertThrowsError(try StarWriter.write(StarDocument(), to: "/nonexistent-dir/x.star")) {
            XCTAssert(StarTestSupport.message(of: $0).contains("/nonexistent-dir/x.star"))
        }
    }

    func testFailedWriteLeavesDestinationUntouched() throws {
        let path = scratch.appendingPathComponent("keep.star").path
        let good = StarDocument(blocks: [StarBlock(name: "a", pairs: [StarPair(key: "k", value: "1")])])
        try StarWriter.write(good, to: path)
        let bad = StarDocument(blocks: [StarBlock(name: "a", pairs: [StarPair(key: "k", value: "x\ny")])])
        XCTAssertThrowsError(try StarWriter.write(bad, to: path))
        XCTAssertEqual(try StarReader.read(path: path), good)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: scratch.path).filter { $0.contains(".tmp-") }
        XCTAssertEqual(leftovers, [])
    }

    func testEditingColumnsKeepsTheOthers() throws {
        let path = CommandRunner.fixtures.appendingPathComponent("cryodrgn/real/relion31.star").path
        var document = try StarReader.read(path: path)
        let index = try XCTUnwrap(document.blockIndex(named: "particles"))
        var table = try XCTUnwrap(document.blocks[index].table)
        let columns = table.columnNames
        try table.setColumn("rlnAngleRot", to: Array(repeating: "12.500000", count: table.rowCount))
        try table.setColumn("rlnRandomSubset", to: ["1", "2", "1", "2", "1"])
        XCTAssertThrowsError(try table.setColumn("rlnBad", to: ["1"]))
        document.blocks[index].table = table
        let written = scratch.appendingPathComponent("edited.star").path
        try StarWriter.write(document, to: written)
        let back = try StarReader.read(path: written).requiredBlock(named: "particles")
        XCTAssertEqual(back.table?.columnNames, columns.contains("rlnRandomSubset") ? columns : columns + ["rlnRandomSubset"])
        XCTAssertEqual(try back.doubleColumn("rlnAngleRot"), Array(repeating: 12.5, count: 5))
        XCTAssertEqual(try back.intColumn("rlnRandomSubset"), [1, 2, 1, 2, 1])
        XCTAssertEqual(back.column("rlnImageName"), try StarReader.read(path: path).block(named: "particles")?
            .column("rlnImageName"))
        var trimmed = table
        trimmed.removeColumn("rlnRandomSubset")
        XCTAssertNil(trimmed.columnIndex("rlnRandomSubset"))
        XCTAssertEqual(trimmed.columnCount, table.columnCount - 1)
    }
}
