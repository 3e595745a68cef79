import DuetCore
import DuetFormats
import DuetTestSupport
import Foundation
import XCTest

/// Tests of the `.npy` / `.cs` reader and writer against NumPy itself (Tests/Oracles/npy_summary.py).
/// python3 with numpy is required: its absence is a failure, never a skip.
final class NPYTests: XCTestCase {
    static let oracle: String = CommandRunner.oraclePath("npy_summary.py")
    /// What the Python side of these tests needs, named in the failure when it is missing.
    static let pythonNeeds = "python3 with numpy (pip install numpy)"

    // MARK: - Helpers

    /// Runs a Python snippet (numpy imported as np, `out` = the given directory).
    func pythonSnippet(_ code: String, in dir: URL) throws {
        let script = dir.appendingPathComponent("snippet-\(UUID().uuidString).py")
        try ("import numpy as np\nout = \(pyString(dir.path))\n" + code).write(to: script, atomically: true, encoding: .utf8)
        try CommandRunner.python([script.path], needs: NPYTests.pythonNeeds)
    }

    func pyString(_ s: String) -> String {
        "'" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }

    func summary(_ path: String, values: Bool = false) throws -> [String: Any] {
        try CommandRunner.pythonJSONObject([NPYTests.oracle] + (values ? ["--values"] : []) + [path],
                                           needs: NPYTests.pythonNeeds)
    }

    private var tempDir: URL?

    func temporaryDirectory() throws -> URL {
        if let tempDir { return tempDir }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("duet-npy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        tempDir = dir
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    func number(_ any: Any?) -> Double? {
        if let s = any as? String { return Double(s) }
        if let n = any as? NSNumber { return n.doubleValue }
        return nil
    }

    func ints(_ any: Any?) -> [Int]? {
        guard let list = any as? [Any] else { return nil }
        return list.compactMap { ($0 as? NSNumber)?.intValue }
    }

    func sameDouble(_ a: Double, _ b: Double, relative: Double = 1e-14) -> Bool {
        if a.isNaN && b.isNaN { return true }
        if a == b { return true }
        return abs(a - b) <= relative * max(abs(a), abs(b))
    }

    /// Compares everything the oracle reports with what Duet read.
    func assertMatchesOracle(_ array: NPYStructuredArray, _ summary: [String: Any], _ label: String,
                             line: UInt = #line) throws {
        XCTAssertEqual(array.arrayShape, ints(summary["shape"]), "\(label): shape", line: line)
        XCTAssertEqual(array.isStructured, summary["structured"] as? Bool, "\(label): structured", line: line)
        let fields = summary["fields"] as? [[String: Any]] ?? []
        XCTAssertEqual(array.fieldNames, fields.map { $0["name"] as? String ?? "?" }, "\(label): field names",
                       line: line)
        for expected in fields {
            let name = expected["name"] as? String ?? ""
            guard array.contains(name) else { continue }
            let f = try array.field(name)
            XCTAssertEqual(f.dtype.descr, expected["dtype"] as? String, "\(label) '\(name)': dtype", line: line)
            XCTAssertEqual(f.shape, ints(expected["shape"]), "\(label) '\(name)': sub-shape", line: line)
            if let sum = number(expected["sum"]) {
                let values = try array.doubles(name)
                let mine = values.reduce(0, +)
                let scale = number(expected["abssum"]) ?? abs(sum)
                XCTAssertLessThanOrEqual(abs(mine - sum), 1e-9 * scale + 1e-300,
                                         "\(label) '\(name)': sum \(mine) vs numpy \(sum)", line: line)
                for pair in expected["sample"] as? [[Any]] ?? [] {
                    guard let i = (pair[0] as? NSNumber)?.intValue, let v = number(pair[1]) else { continue }
                    XCTAssertTrue(i < values.count && sameDouble(values[i], v, relative: 0),
                                  "\(label) '\(name)'[\(i)]: \(i < values.count ? values[i] : .nan) vs numpy \(v)",
                                  line: line)
                }
            } else if expected.keys.contains("first") {
                if array.count > 0 {
                    XCTAssertEqual(try array.string(name, row: 0), expected["first"] as? String,
                                   "\(label) '\(name)': first", line: line)
                    XCTAssertEqual(try array.string(name, row: array.count - 1), expected["last"] as? String,
                                   "\(label) '\(name)': last", line: line)
                } else {
                    XCTAssertTrue(expected["first"] is NSNull, "\(label) '\(name)': numpy has rows", line: line)
                }
            } else {
                XCTFail("\(label) '\(name)': oracle reports an unsupported dtype", line: line)
            }
        }
    }

    func assertDuetError(_ label: String, contains parts: [String], line: UInt = #line, _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("\(label): no error thrown", line: line)
        } catch let error as DuetError {
            XCTAssertFalse(error.message.contains("\n"), "\(label): message not one line: \(error.message)", line: line)
            for part in parts {
                XCTAssertTrue(error.message.contains(part), "\(label): '\(error.message)' lacks '\(part)'", line: line)
            }
        } catch {
            XCTFail("\(label): not a DuetError: \(error)", line: line)
        }
    }

    func files(under dir: String, suffix: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: dir) else { return [] }
        var out: [String] = []
        while let rel = walker.nextObject() as? String {
            if rel.hasSuffix(suffix) { out.append(dir + "/" + rel) }
        }
        return out.sorted()
    }

    func requireDataRoot() throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: CommandRunner.fixtures.path, isDirectory: &isDir), isDir.boolValue
        else {
            throw DuetError("fixture directory \(CommandRunner.fixtures.path) missing")
        }
    }

    // MARK: - Fixtures

    func testEveryCSFixtureMatchesNumpy() throws {
        try requireDataRoot()
        let paths = files(under: CommandRunner.fixtures.path, suffix: ".cs")
        XCTAssertGreaterThanOrEqual(paths.count, 4,
                                    "expected the 4 .cs fixtures under \(CommandRunner.fixtures.path)")
        var sawEmpty = false
        for path in paths {
            let array = try NPYFile.read(path: path)
            try assertMatchesOracle(array, try summary(path), (path as NSString).lastPathComponent)
            XCTAssertTrue(array.isStructured)
            XCTAssertEqual(try NPYFile.readHeader(path: path).fields, array.fields)
            if path.hasSuffix("4k_dataset_empty_many_fields.cs") {
                sawEmpty = true
                XCTAssertEqual(array.count, 0)
                XCTAssertEqual(array.fields.count, 106)
                XCTAssertEqual(try array.doubles("alignments3D/pose"), [])
            }
            // Offsets are packed.
            var offset = 0
            for f in array.fields {
                XCTAssertEqual(f.offset, offset, "\(path): offset of \(f.name)")
                offset += f.itemSize
            }
            XCTAssertEqual(array.itemSize, offset)
            // The records are the file's bytes, untouched.
            let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            XCTAssertTrue(original.suffix(array.bytes.count).elementsEqual(array.bytes), "\(path): record bytes differ")
            // Duet's encoding is byte-identical to what numpy's np.save writes for the same array.
            let dir = try temporaryDirectory()
            let resaved = dir.appendingPathComponent("resaved.npy")
            try pythonSnippet("np.save(out + '/resaved.npy', np.load(\(pyString(path))))", in: dir)
            let numpyBytes = try [UInt8](Data(contentsOf: resaved))
            let mine = NPYFile.encode(array)
            let firstDifference = zip(mine, numpyBytes).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            XCTAssertTrue(mine == numpyBytes, "\(path): Duet's encoding (\(mine.count) bytes) differs from np.save's (\(numpyBytes.count) bytes) at byte \(firstDifference.map(String.init) ?? "end")")
        }
        XCTAssertTrue(sawEmpty, "the 0-row 106-field fixture was not found")
    }

    func testCSFixtureTypedAccess() throws {
        try requireDataRoot()
        let path = CommandRunner.fixtures.path + "/cryodrgn/real/empiar_10076_7.cs"
        let cs = try NPYFile.read(path: path)
        XCTAssertEqual(cs.count, 7)
        XCTAssertEqual(try cs.int("blob/shape", row: 3, element: 1), 320)
        XCTAssertEqual(try cs.ints("blob/idx"), [0, 1, 2, 3, 4, 5, 6])
        XCTAssertEqual(try cs.string("blob/path", row: 0), "empiar_10076_7.mrc")
        XCTAssertEqual(try cs.strings("ctf/type").count, 7)
        XCTAssertEqual(Double(try cs.uint64s("uid")[0]), 3.8062438784092175e+18)
        XCTAssertEqual(try cs.floats("blob/psize_A")[0], 1.3099979, accuracy: 1e-6)
        XCTAssertEqual(try cs.doubles("ctf/anisomag").count, 28)
        // uid values above Int.max must be read as UInt64.
        assertDuetError("uid as Int", contains: ["uid", path, "Int.max"]) { _ = try cs.ints("uid") }
    }

    func testReferenceNPYFilesMatchNumpy() throws {
        try requireDataRoot()
        let paths = files(under: CommandRunner.fixtures.path + "/cryodrgn/reference_parsed", suffix: ".npy")
            + files(under: CommandRunner.fixtures.path + "/aspire/volumes", suffix: ".npy")
        XCTAssertGreaterThanOrEqual(paths.count, 20)
        for path in paths {
            let array = try NPYFile.read(path: path)
            let oracle = try summary(path)
            try assertMatchesOracle(array, oracle, (path as NSString).lastPathComponent)
            XCTAssertFalse(array.isStructured)
            let plain = try NPYFile.readArray(path: path)
            XCTAssertEqual(plain.shape, ints(oracle["shape"]))
            XCTAssertEqual(plain.values.count, plain.shape.reduce(1, *))
            let field = (oracle["fields"] as? [[String: Any]])?.first ?? [:]
            XCTAssertEqual(plain.dtype.descr, field["dtype"] as? String)
            let sum = number(field["sum"]) ?? .nan
            XCTAssertEqual(plain.values.reduce(0, +), sum, accuracy: 1e-9 * (number(field["abssum"]) ?? 1))
        }
        // The volume is stored in Fortran order: values come back in C order (checked by the samples above).
        let volume = try NPYFile.readArray(path: CommandRunner.fixtures.path
                                               + "/aspire/volumes/clean70SRibosome_vol.npy")
        XCTAssertEqual(volume.shape, [65, 65, 65])
        XCTAssertEqual(volume[1, 2, 3], volume.values[(1 * 65 + 2) * 65 + 3])
    }

    // MARK: - Writing

    /// An array exercising every supported type, sub-arrays and byte orders.
    func makeMixedArray() throws -> NPYStructuredArray {
        var a = try NPYStructuredArray(fields: [
            NPYField("uid", .uint64),
            NPYField("blob/path", .bytes(20)),
            NPYField("blob/shape", .uint32, shape: [2]),
            NPYField("alignments3D/pose", .float32, shape: [3]),
            NPYField("ctf/df1_A", .float64),
            NPYField("small", .int16),
            NPYField("tiny", .int8),
            NPYField("byte", .uint8),
            NPYField("flag", .bool),
            NPYField("half", .float16),
            NPYField("big/f4", try NPYDType(parsing: ">f4")),
            NPYField("big/i8", try NPYDType(parsing: ">i8")),
            NPYField("grid", .float32, shape: [2, 3]),
            NPYField("label", .unicode(6)),
        ], count: 5, source: "mixed")
        try a.setUInt64s("uid", to: [0, 1, UInt64(Int64.max) + 1, UInt64.max - 5, 12345678901234567890])
        try a.setStrings("blob/path", to: ["", "a.mrcs", "J12/particles.mrcs", "exactly-twenty-bytes", "x"])
        try a.setInts("blob/shape", to: [180, 180, 64, 64, 320, 320, 1, 2, 4_000_000_000, 0])
        try a.setDoubles("alignments3D/pose", to: (0..<15).map { Double($0) * 0.1 - 0.7 })
        try a.setDoubles("ctf/df1_A", to: [12345.678, -1e-300, 1e300, .pi, 0])
        try a.setInts("small", to: [-32768, -1, 0, 1, 32767])
        try a.setInts("tiny", to: [-128, -5, 0, 5, 127])
        try a.setInts("byte", to: [0, 1, 128, 254, 255])
        try a.setInts("flag", to: [0, 1, 0, 1, 1])
        try a.setDoubles("half", to: [1.0 / 3.0, 65504, -2.5e-7, 6.1e-5, -0.0])
        try a.setDoubles("big/f4", to: [1.5, -2.25, 3e10, -1e-20, 7])
        try a.setInts("big/i8", to: [Int.min, -1, 0, 1, Int.max])
        try a.setFloats("grid", to: (0..<30).map { Float($0) * 1.25 })
        try a.setStrings("label", to: ["", "λ", "Å/défo", "abcdef", "∑x"])
        try a.setDouble("ctf/df1_A", row: 4, to: 2.5)
        try a.setInt("blob/shape", row: 3, element: 1, to: 7)
        try a.setString("blob/path", row: 4, to: "y.mrc")
        return a
    }

    func testWriteThenNumpyReadsSameValues() throws {
        let dir = try temporaryDirectory()
        let path = dir.appendingPathComponent("mixed.cs").path
        let a = try makeMixedArray()
        try NPYFile.write(a, to: path)

        // Header layout: v1.0, data start at a multiple of 64, header ends with '\n'.
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(Array(bytes[0..<8]), [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0])
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        XCTAssertEqual((10 + headerLength) % 64, 0)
        XCTAssertEqual(bytes[10 + headerLength - 1], 0x0A)
        XCTAssertEqual(bytes.count, 10 + headerLength + 5 * a.itemSize)

        // Duet reads back what it wrote.
        let back = try NPYFile.read(path: path)
        XCTAssertEqual(back, a)
        XCTAssertEqual(try back.uint64("uid", row: 3), UInt64.max - 5)
        XCTAssertEqual(try back.string("label", row: 2), "Å/défo")
        XCTAssertEqual(try back.int("big/i8", row: 0), Int.min)
        XCTAssertEqual(try back.double("half", row: 1), 65504)

        // numpy reads the same values.
        let oracle = try summary(path, values: true)
        try assertMatchesOracle(back, oracle, "mixed.cs")
        XCTAssertEqual(ints(oracle["version"]), [1, 0])
        for field in oracle["fields"] as? [[String: Any]] ?? [] {
            let name = field["name"] as? String ?? ""
            let f = try a.field(name)
            let values = field["values"] as? [Any] ?? []
            XCTAssertEqual(values.count, a.count * f.elementCount, name)
            switch f.dtype.kind {
            case .bytes, .unicode:
                XCTAssertEqual(values as? [String], try a.strings(name), name)
            case .signed:
                XCTAssertEqual(values as? [String], try a.ints(name).map(String.init), name)
            case .unsigned:
                XCTAssertEqual(values as? [String], try a.uint64s(name).map { String($0) }, name)
            case .float, .bool:
                let mine = try a.doubles(name)
                for (k, v) in values.enumerated() {
                    XCTAssertTrue(sameDouble(number(v) ?? .nan, mine[k], relative: 0), "\(name)[\(k)]: \(v) vs \(mine[k])")
                    XCTAssertEqual((number(v) ?? .nan).sign, mine[k].sign, "\(name)[\(k)]: sign")
                }
            case .void:
                XCTFail("no void fields expected")
            }
        }
        // Byte-identical to numpy's own np.save of what it loaded.
        try pythonSnippet("np.save(out + '/mixed-resaved.npy', np.load(\(pyString(path))))", in: dir)
        let resaved = try [UInt8](Data(contentsOf: dir.appendingPathComponent("mixed-resaved.npy")))
        XCTAssertTrue(resaved == bytes, "Duet's file differs from np.save's (\(bytes.count) vs \(resaved.count) bytes)")
        // Rounding happened as numpy would: numpy's own float16 of 1/3.
        let h = try a.double("half", row: 0)
        XCTAssertEqual(h, 0.333251953125)
    }

    func testEditFixtureKeepsUnknownFields() throws {
        try requireDataRoot()
        let source = CommandRunner.fixtures.path + "/cryodrgn/metadata/cryosparc_P12_J24_001_particles.cs"
        let original = try NPYFile.read(path: source)
        let before = try summary(source)
        var edited = original
        let df = try edited.doubles("ctf/df1_A")
        try edited.setDoubles("ctf/df1_A", to: df.map { $0 + 100 })
        try edited.setString("blob/path", row: 0, to: "edited/by/duet.mrcs")
        try edited.addField("duet/score", .float32)
        try edited.addField("duet/shift", .float64, shape: [2])
        try edited.setDoubles("duet/score", to: (0..<edited.count).map { Double($0) })
        XCTAssertEqual(edited.itemSize, original.itemSize + 4 + 16)
        let dir = try temporaryDirectory()
        let path = dir.appendingPathComponent("edited.cs").path
        try NPYFile.write(edited, to: path)

        let after = try summary(path)
        try assertMatchesOracle(try NPYFile.read(path: path), after, "edited.cs")
        let beforeFields = before["fields"] as? [[String: Any]] ?? []
        let afterFields = after["fields"] as? [[String: Any]] ?? []
        XCTAssertEqual(afterFields.count, beforeFields.count + 2)
        for (b, a) in zip(beforeFields, afterFields) {
            let name = b["name"] as? String ?? ""
            XCTAssertEqual(a["name"] as? String, name)
            if name == "ctf/df1_A" {
                XCTAssertEqual(number(a["sum"]) ?? 0, (number(b["sum"]) ?? 0) + 100 * Double(original.count),
                               accuracy: 1)
            } else if name == "blob/path" {
                XCTAssertEqual(a["first"] as? String, "edited/by/duet.mrcs")
                XCTAssertEqual(a["last"] as? String, b["last"] as? String)
            } else {
                XCTAssertEqual(number(a["sum"]), number(b["sum"]), name)
                XCTAssertEqual(a["first"] as? String, b["first"] as? String, name)
            }
        }
        XCTAssertEqual(afterFields.last?["name"] as? String, "duet/shift")
        XCTAssertEqual(afterFields.last?["dtype"] as? String, "<f8")

        // Unknown fields are byte-identical in every row.
        let reread = try NPYFile.read(path: path)
        for f in original.fields where f.name != "ctf/df1_A" && f.name != "blob/path" {
            let g = try reread.field(f.name)
            for r in 0..<original.count {
                let x = original.bytes[(r * original.itemSize + f.offset)..<(r * original.itemSize + f.offset + f.itemSize)]
                let y = reread.bytes[(r * reread.itemSize + g.offset)..<(r * reread.itemSize + g.offset + g.itemSize)]
                XCTAssertEqual(Array(x), Array(y), "\(f.name) row \(r)")
            }
        }

        // Removing the added fields gives back the original bytes; selecting rows keeps records intact.
        var trimmed = reread
        try trimmed.removeField("duet/score")
        try trimmed.removeField("duet/shift")
        try trimmed.setDoubles("ctf/df1_A", to: df)
        try trimmed.setString("blob/path", row: 0, to: try original.string("blob/path", row: 0))
        XCTAssertEqual(trimmed.bytes, original.bytes)
        let subset = try original.selecting(rows: [5, 0, 5])
        XCTAssertEqual(subset.count, 3)
        XCTAssertEqual(try subset.uint64("uid", row: 0), try original.uint64("uid", row: 5))
        XCTAssertEqual(try subset.uint64("uid", row: 1), try original.uint64("uid", row: 0))
    }

    func testPlainArrayWriteAndNumpyRead() throws {
        let dir = try temporaryDirectory()
        let values = (0..<24).map { Double($0) * 0.5 - 3 }
        let array = try NPYArray(shape: [2, 3, 4], values: values, dtype: .float32)
        let path = dir.appendingPathComponent("plain.npy").path
        try NPYFile.write(array, to: path)
        let oracle = try summary(path, values: true)
        XCTAssertEqual(ints(oracle["shape"]), [2, 3, 4])
        let field = (oracle["fields"] as? [[String: Any]])?.first ?? [:]
        XCTAssertEqual(field["dtype"] as? String, "<f4")
        XCTAssertEqual((field["values"] as? [Any])?.compactMap { number($0) }, values)
        XCTAssertEqual(try NPYFile.readArray(path: path), array)
        XCTAssertEqual(array[1, 2, 3], values[23])
        // 0-d array.
        let scalar = try NPYArray(shape: [], values: [42], dtype: .int32)
        let scalarPath = dir.appendingPathComponent("scalar.npy").path
        try NPYFile.write(scalar, to: scalarPath)
        let s = try summary(scalarPath)
        XCTAssertEqual(ints(s["shape"]), [])
        XCTAssertEqual(number((s["fields"] as? [[String: Any]])?.first?["sum"]), 42)
        XCTAssertEqual(try NPYFile.readArray(path: scalarPath), scalar)
    }

    // MARK: - Header parsing

    func testDTypeStringsAndHeaderDictionary() throws {
        let host = NPYDType.hostIsBigEndian ? ">" : "<"
        let cases: [(String, String, Int)] = [
            ("<f4", "<f4", 4), (">f8", ">f8", 8), ("=f4", host + "f4", 4), ("f2", host + "f2", 2),
            ("|u1", "|u1", 1), (">i1", "|i1", 1), ("<u8", "<u8", 8), ("|b1", "|b1", 1), ("?", "|b1", 1),
            ("S10", "|S10", 10), ("|S56", "|S56", 56), ("<U3", "<U3", 12), (">U2", ">U2", 8), ("|V8", "|V8", 8),
        ]
        for (text, descr, size) in cases {
            let t = try NPYDType(parsing: text)
            XCTAssertEqual(t.descr, descr, text)
            XCTAssertEqual(t.size, size, text)
        }
        for bad in ["<c8", "|O", "<M8[ns]", "<m8[s]", "<f3", "<i3", "", "<", "x4"] {
            assertDuetError("dtype \(bad)", contains: ["unsupported dtype"]) { _ = try NPYDType(parsing: bad) }
        }
        // Double quotes, a (title, name) pair, nested sub-shape, Python 2 long, padding, odd spacing.
        let h = try NPYHeader.parseDictionary(
            #"{ "shape" : (3L,) , 'fortran_order':False, 'descr':[(('Title', 'a'), '<f4'), ('', '|V4'), ("b's", '>i2', (2, 3)), ('c', '|S5', 2)] }"#,
            source: "inline")
        XCTAssertTrue(h.isStructured)
        XCTAssertEqual(h.shape, [3])
        XCTAssertEqual(h.fields.map(\.name), ["a", "b's", "c"])
        XCTAssertEqual(h.fields.map(\.offset), [0, 8, 20])
        XCTAssertEqual(h.fields.map(\.shape), [[], [2, 3], [2]])
        XCTAssertEqual(h.itemSize, 30)
        XCTAssertEqual(h.renderDictionary(),
                       #"{'descr': [('a', '<f4'), ('', '|V4'), ("b's", '>i2', (2, 3)), ('c', '|S5', (2,))], 'fortran_order': False, 'shape': (3,), }"#)
        let plain = try NPYHeader.parseDictionary("{'descr': '<f8', 'fortran_order': True, 'shape': (), }",
                                                  source: "inline")
        XCTAssertFalse(plain.isStructured)
        XCTAssertEqual(plain.shape, [])
        XCTAssertEqual(plain.recordCount, 1)
        XCTAssertTrue(plain.fortranOrder)
        assertDuetError("nested record", contains: ["nested", "'x'", "inline"]) {
            _ = try NPYHeader.parseDictionary("{'descr': [('x', [('y', '<f4')])], 'fortran_order': False, 'shape': (1,)}",
                                              source: "inline")
        }
        assertDuetError("duplicate", contains: ["duplicate field 'x'"]) {
            _ = try NPYHeader.parseDictionary("{'descr': [('x', '<f4'), ('x', '<f4')], 'fortran_order': False, 'shape': (1,)}",
                                              source: "inline")
        }
    }

    // MARK: - Files written by numpy

    func testReadsNumpyVersion2And3AndPaddedFiles() throws {
        let dir = try temporaryDirectory()
        try pythonSnippet("""
            dt = np.dtype([('uid', '<u8'), ('blob/path', 'S12'), ('blob/shape', '<u4', (2,)),
                           ('nested', '<f4', (2, 3)), ('be', '>f8'), ('half', '<f2'), ('flag', '?'),
                           ('name', '<U4')])
            a = np.zeros(4, dtype=dt)
            a['uid'] = [1, 2**63, 2**64 - 1, 7]
            a['blob/path'] = [b'a', b'bb.mrcs', b'twelve-bytes', b'']
            a['blob/shape'] = [[1, 2], [3, 4], [5, 6], [7, 8]]
            a['nested'] = np.arange(24, dtype='f4').reshape(4, 2, 3) - 3.5
            a['be'] = [1.5, -2.5, 1e-310, 3e200]
            a['half'] = [0.1, -65504, 6e-8, 1]
            a['flag'] = [True, False, True, False]
            a['name'] = ['ab', 'λμ', '', 'wxyz']
            for v in [(2, 0), (3, 0)]:
                with open(out + '/v%d.cs' % v[0], 'wb') as f:
                    np.lib.format.write_array(f, a, version=v)
            u = np.zeros(3, dtype=[('défocus/Å', '<f4'), ('角度', '<f8', (2,))])
            u['défocus/Å'] = [1, 2, 3]
            u['角度'] = [[1, 2], [3, 4], [5, 6]]
            np.save(out + '/utf8.npy', u)  # numpy picks version 3.0 for non-latin-1 names
            p = np.zeros(3, dtype=np.dtype([('a', 'u1'), ('b', '<f8'), ('c', '<i2')], align=True))
            p['a'] = [1, 2, 3]; p['b'] = [0.5, 1.5, 2.5]; p['c'] = [-1, -2, -3]
            np.save(out + '/padded.npy', p)
            with open(out + '/plain_v2.npy', 'wb') as f:
                np.lib.format.write_array(f, np.arange(6, dtype='>i4').reshape(2, 3), version=(2, 0))
            np.save(out + '/fortran.npy', np.asfortranarray(np.arange(24, dtype='<f4').reshape(2, 3, 4)))
            np.save(out + '/bytes.npy', np.array([b'abc', b'', b'xyzw'], dtype='S4'))
            """, in: dir)
        for (file, version) in [("v2.cs", 2), ("v3.cs", 3), ("utf8.npy", 3), ("padded.npy", 1),
                                ("plain_v2.npy", 2), ("fortran.npy", 1), ("bytes.npy", 1)] {
            let path = dir.appendingPathComponent(file).path
            let array = try NPYFile.read(path: path)
            let oracle = try summary(path)
            XCTAssertEqual(ints(oracle["version"]), [version, 0], file)
            XCTAssertEqual(try NPYFile.readHeader(path: path).major, version, file)
            try assertMatchesOracle(array, oracle, file)
        }
        let v2 = try NPYFile.read(path: dir.appendingPathComponent("v2.cs").path)
        XCTAssertEqual(try v2.uint64s("uid"), [1, 1 << 63, UInt64.max, 7])
        XCTAssertEqual(try v2.strings("name"), ["ab", "λμ", "", "wxyz"])
        XCTAssertEqual(try v2.string("blob/path", row: 2), "twelve-bytes")
        XCTAssertEqual(try v2.double("nested", row: 1, element: 5), 11 - 3.5)
        XCTAssertEqual(try v2.double("be", row: 2), Double("1e-310")!)
        XCTAssertEqual(try v2.doubles("flag"), [1, 0, 1, 0])

        // Padding (align=True) is kept: offsets follow numpy's and a rewrite is byte-identical.
        let padded = try NPYFile.read(path: dir.appendingPathComponent("padded.npy").path)
        XCTAssertEqual(padded.fields.map(\.offset), [0, 8, 16])
        XCTAssertEqual(padded.itemSize, 24)
        XCTAssertEqual(try padded.doubles("b"), [0.5, 1.5, 2.5])
        let rewritten = dir.appendingPathComponent("padded-duet.npy").path
        try NPYFile.write(padded, to: rewritten)
        try assertMatchesOracle(try NPYFile.read(path: rewritten), try summary(rewritten), "padded-duet.npy")

        // Non-latin-1 names: Duet writes version 3.0 and numpy reads it.
        let utf8 = try NPYFile.read(path: dir.appendingPathComponent("utf8.npy").path)
        XCTAssertEqual(utf8.fieldNames, ["défocus/Å", "角度"])
        let utf8Out = dir.appendingPathComponent("utf8-duet.npy").path
        try NPYFile.write(utf8, to: utf8Out)
        let utf8Oracle = try summary(utf8Out)
        XCTAssertEqual(ints(utf8Oracle["version"]), [3, 0])
        try assertMatchesOracle(utf8, utf8Oracle, "utf8-duet.npy")

        // The Fortran-ordered plain array comes back in C order.
        let fortran = try NPYFile.readArray(path: dir.appendingPathComponent("fortran.npy").path)
        XCTAssertEqual(fortran.values, (0..<24).map(Double.init))
    }

    func testHugeHeaderIsWrittenAsVersion2() throws {
        let names = (0..<1500).map { "some/rather/long/field/name/number/\($0)/" + String(repeating: "x", count: 20) }
        var a = try NPYStructuredArray(fields: names.map { NPYField($0, .float32) }, count: 2, source: "wide")
        try a.setDoubles(names[1499], to: [1, 2])
        let path = try temporaryDirectory().appendingPathComponent("wide.cs").path
        try NPYFile.write(a, to: path)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)).prefix(12))
        XCTAssertEqual(bytes[6], 2)
        let length = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        XCTAssertGreaterThan(length, 65535)
        XCTAssertEqual((12 + length) % 64, 0)
        let oracle = try summary(path)
        XCTAssertEqual(ints(oracle["version"]), [2, 0])
        try assertMatchesOracle(try NPYFile.read(path: path), oracle, "wide.cs")
    }

    // MARK: - Errors

    func testErrorsAreOneLineAndNameFileAndField() throws {
        try requireDataRoot()
        let dir = try temporaryDirectory()
        let fixture = CommandRunner.fixtures.path + "/cryodrgn/real/empiar_10076_7.cs"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: fixture))

        let truncated = dir.appendingPathComponent("truncated.cs").path
        try bytes.prefix(bytes.count - 10).write(to: URL(fileURLWithPath: truncated))
        assertDuetError("truncated data", contains: ["truncated", truncated]) { _ = try NPYFile.read(path: truncated) }
        assertDuetError("truncated data in memory", contains: ["truncated", "mem"]) {
            _ = try NPYFile.decode([UInt8](bytes.prefix(bytes.count - 1)), source: "mem")
        }

        let cutHeader = dir.appendingPathComponent("cut-header.cs").path
        try bytes.prefix(100).write(to: URL(fileURLWithPath: cutHeader))
        assertDuetError("truncated header", contains: ["truncated", cutHeader]) { _ = try NPYFile.read(path: cutHeader) }

        let text = dir.appendingPathComponent("particles.star").path
        try "data_\nloop_\n_rlnImageName\n".write(toFile: text, atomically: true, encoding: .utf8)
        assertDuetError("not npy", contains: ["not an npy file", text]) { _ = try NPYFile.read(path: text) }
        let empty = dir.appendingPathComponent("empty.cs").path
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        assertDuetError("empty", contains: ["not an npy file", empty]) { _ = try NPYFile.read(path: empty) }
        let missing = dir.appendingPathComponent("missing.cs").path
        assertDuetError("no file", contains: [missing]) { _ = try NPYFile.read(path: missing) }

        var cs = try NPYFile.read(path: fixture)
        assertDuetError("missing field", contains: ["field 'ctf/nope' not in \(fixture)"]) {
            _ = try cs.double("ctf/nope", row: 0)
        }
        assertDuetError("missing column", contains: ["field 'ctf/nope' not in \(fixture)"]) {
            _ = try cs.doubles("ctf/nope")
        }
        assertDuetError("string too long", contains: ["too long", "'ctf/type'", "|S9", fixture]) {
            try cs.setString("ctf/type", row: 0, to: "a-string-longer-than-nine-bytes")
        }
        assertDuetError("strings too long", contains: ["too long", "'blob/path'", fixture]) {
            try cs.setStrings("blob/path", to: Array(repeating: String(repeating: "p", count: 64), count: 7))
        }
        assertDuetError("string of number", contains: ["'blob/idx'", "not a string"]) {
            _ = try cs.string("blob/idx", row: 0)
        }
        assertDuetError("number of string", contains: ["'blob/path'", "not numeric"]) {
            _ = try cs.double("blob/path", row: 0)
        }
        assertDuetError("int of float", contains: ["'ctf/df1_A'", "not an integer"]) {
            _ = try cs.int("ctf/df1_A", row: 0)
        }
        assertDuetError("row range", contains: ["row 7", "'ctf/df1_A'", fixture]) {
            _ = try cs.double("ctf/df1_A", row: 7)
        }
        assertDuetError("element range", contains: ["element 2", "'blob/shape'"]) {
            _ = try cs.int("blob/shape", row: 0, element: 2)
        }
        assertDuetError("value range", contains: ["'blob/idx'", "<u4"]) {
            try cs.setInt("blob/idx", row: 0, to: -1)
        }
        assertDuetError("non-integral", contains: ["'blob/idx'"]) {
            try cs.setDouble("blob/idx", row: 0, to: 1.5)
        }
        assertDuetError("column count", contains: ["'ctf/df1_A'", "3 values"]) {
            try cs.setDoubles("ctf/df1_A", to: [1, 2, 3])
        }
        assertDuetError("duplicate field", contains: ["'uid'", "already"]) { try cs.addField("uid", .uint64) }
        XCTAssertEqual(try NPYFile.read(path: fixture), cs, "failed setters must not change the array")

        // Unsupported dtypes and Fortran-ordered structured data, written by numpy.
        try pythonSnippet("""
            a = np.zeros(2, dtype=[('uid', '<u8'), ('ctf/complex', '<c8')])
            np.save(open(out + '/complex.cs', 'wb'), a)
            b = np.zeros((2, 2), dtype=[('x', '<f4'), ('y', '<f4')], order='F')
            np.save(open(out + '/fortran.cs', 'wb'), b)
            """, in: dir)
        let complex = dir.appendingPathComponent("complex.cs").path
        assertDuetError("complex", contains: ["unsupported dtype", "'<c8'", "'ctf/complex'", complex]) {
            _ = try NPYFile.read(path: complex)
        }
        let fortran = dir.appendingPathComponent("fortran.cs").path
        assertDuetError("fortran", contains: ["fortran_order", fortran]) { _ = try NPYFile.read(path: fortran) }
        assertDuetError("bad header", contains: ["malformed npy header", "inline"]) {
            _ = try NPYHeader.parseDictionary("{'descr': '<f4', 'shape': (3,), }", source: "inline")
        }
    }

    // MARK: - Scale

    func testMillionRowsFiftyFields() throws {
        let dir = try temporaryDirectory()
        try pythonSnippet("""
            fields = [('uid', '<u8'), ('blob/path', 'S32'), ('blob/shape', '<u4', (2,)), ('alignments3D/shift', '<f4', (2,))]
            fields += [('f%02d' % i, '<f4') for i in range(40)] + [('u%d' % i, '<u4') for i in range(6)]
            a = np.zeros(1000000, dtype=fields)
            a['uid'] = np.arange(1000000, dtype='u8') * 3
            a['f07'] = np.arange(1000000, dtype='f4')
            a['alignments3D/shift'][:, 1] = 2.0
            a['blob/path'][-1] = b'last.mrcs'
            with open(out + '/big.cs', 'wb') as f:
                np.save(f, a)
            """, in: dir)
        let path = dir.appendingPathComponent("big.cs").path
        let start = Date()
        let big = try NPYFile.read(path: path)
        let readTime = Date().timeIntervalSince(start)
        XCTAssertEqual(big.count, 1_000_000)
        XCTAssertEqual(big.fields.count, 50)
        let columnStart = Date()
        let f07 = try big.doubles("f07")
        let shifts = try big.floats("alignments3D/shift")
        let columnTime = Date().timeIntervalSince(columnStart)
        XCTAssertEqual(f07.reduce(0, +), 499_999_500_000)
        XCTAssertEqual(shifts.reduce(0, +), 2_000_000)
        XCTAssertEqual(try big.uint64s("uid").last, 2_999_997)
        XCTAssertEqual(try big.string("blob/path", row: 999_999), "last.mrcs")
        print("NPY 10^6 rows × 50 fields (\(big.itemSize * big.count / 1_000_000) MB): read \(readTime) s, two columns \(columnTime) s")
        XCTAssertLessThan(readTime, 10, "bulk read too slow")
        XCTAssertLessThan(columnTime, 10, "column extraction too slow")
    }
}
