import DuetCore
import DuetFormats
import DuetTestSupport
import XCTest

/// The hostile-input corpus (issue #15): over 300 malformed or hostile MRC, STAR, `.cs` and checkpoint files and
/// option sets, generated here from one seed out of small valid fixtures (a blob map, 8 simulated particles with
/// poses, a checkpointed refine). Every case must end with exit status 1, no signal, exactly one line on stderr
/// starting `duet: error: `, and nothing left behind (no output file; a resumed run's files untouched). Each
/// mutation is chosen so that the input is certainly invalid: a case that succeeds is a silent wrong answer.
final class FuzzTests: XCTestCase {
    /// One command run on one hostile input.
    struct Case {
        let name: String
        let arguments: [String]
        /// Paths that must not exist afterwards.
        var outputs: [String] = []
        /// A directory whose files must be unchanged afterwards (a resumed run).
        var untouched: String?
    }

    private var directory: URL!
    private var generator = SeededGenerator(seed: 15, stream: 0xF022)

    override func setUpWithError() throws {
        directory = try CommandRunner.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    private func random(_ range: Range<Int>) -> Int { Int.random(in: range, using: &generator) }

    private func pick<T>(_ values: [T]) -> T { values[random(0..<values.count)] }

    /// A schedule so short that a case that wrongly passes the checks still ends in a second.
    private let short = ["--initial-iterations", "1", "--final-iterations", "0", "--initial-minibatch", "4", "--threads", "1"]

    func testHostileInputsEndWithOneErrorLine() throws {
        let fixtures = try makeFixtures()
        var cases: [Case] = []
        cases += try mrcCases(fixtures)
        cases += try starCases(fixtures)
        cases += try cryosparcCases(fixtures)
        cases += try checkpointCases(fixtures)
        cases += optionCases(fixtures)
        XCTAssertGreaterThanOrEqual(cases.count, 300)

        let results = Results(count: cases.count)
        let work = cases, directory = directory!
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            for index in stride(from: worker, to: work.count, by: 4) {
                results.set(index, Self.problem(of: work[index], in: directory))
            }
        }
        let problems = results.values.enumerated().compactMap { index, problem in
            problem.map { "case \(index) \(cases[index].name): \($0)" }
        }
        print("fuzz corpus: \(cases.count) cases, \(problems.count) failed")
        for problem in problems { XCTFail(problem) }
    }

    // MARK: - Fixtures

    struct Fixtures {
        let map: String, star: String, posedStar: String, cs: String, run: String
        let mapBytes: Data, starText: String, csBytes: Data, checkpointJSON: String
    }

    /// A 16³ blob map at 4 Å/px, 8 simulated particles (`particles.star` without poses, `truth.star` with them,
    /// `truth.cs`), and a refine of them stopped at a checkpoint after iteration 1 of 2.
    private func makeFixtures() throws -> Fixtures {
        let map = path("blobs.mrc")
        try MRCWriter.writeVolume(nx: 16, ny: 16, nz: 16, data: TestVolumes.asymmetricBlobs(box: 16), pixelSize_A: 4,
                                  to: map)
        for arguments in [["simulate", map, "--out", path("sim"), "--count", "8", "--seed", "2"],
                          ["convert", path("sim/truth.star"), path("sim/truth.cs")],
                          ["refine", path("sim/particles.star"), "--out", path("run"), "--initial-iterations", "2",
                           "--final-iterations", "0", "--refinement-rounds", "0", "--checkpoint-every", "1",
                           "--initial-minibatch", "4", "--threads", "1"]] {
            let result = try CommandRunner.duet(arguments, in: directory)
            XCTAssertEqual(result.status, 0, "\(arguments): \(result.stderr)")
        }
        return Fixtures(map: map, star: path("sim/particles.star"), posedStar: path("sim/truth.star"),
                        cs: path("sim/truth.cs"), run: path("run"),
                        mapBytes: try Data(contentsOf: URL(fileURLWithPath: map)),
                        starText: try String(contentsOfFile: path("sim/truth.star"), encoding: .utf8),
                        csBytes: try Data(contentsOf: URL(fileURLWithPath: path("sim/truth.cs"))),
                        checkpointJSON: try String(contentsOfFile: path("run/checkpoint/checkpoint.json"), encoding: .utf8))
    }

    // MARK: - MRC maps (duet fsc)

    private func mrcCases(_ f: Fixtures) throws -> [Case] {
        var cases: [Case] = []
        func add(_ name: String, _ bytes: Data) throws {
            let file = path("map\(cases.count).mrc"), out = path("map\(cases.count)-fsc")
            try bytes.write(to: URL(fileURLWithPath: file))
            cases.append(Case(name: "map: \(name)", arguments: ["fsc", file, f.map, "--out", out],
                              outputs: [out + ".star", out + ".svg"]))
        }
        for _ in 0..<20 {
            let length = random(0..<(f.mapBytes.count - 1))
            try add("truncated to \(length) bytes", f.mapBytes.prefix(length))
        }
        let voxels = 16 * 16 * 16
        for value in [Float.nan, .infinity, -.infinity, .signalingNaN] {
            for _ in 0..<4 {
                let voxel = random(0..<voxels)
                try add("voxel \(voxel) = \(value)", Self.replacing(f.mapBytes, at: 1024 + 4 * voxel, with: value.bitPattern))
            }
        }
        let fields: [(String, Int, [Int32])] = [
            ("nx", 0, [0, -1, -16, 15, 17, 1 << 30, .max]), ("ny", 4, [0, -3, 8, 32, .max]),
            ("nz", 8, [0, -16, 1, 1 << 20, .min]), ("mode", 12, [-1, 3, 4, 5, 7, 8, 9, 10, 11, 13, 101, .max]),
            ("nsymbt", 92, [-1, -1024, 4096, 1 << 30, .max]),
        ]
        for (field, offset, values) in fields {
            for value in values {
                try add("\(field) = \(value)", Self.replacing(f.mapBytes, at: offset, with: UInt32(bitPattern: value)))
            }
        }
        for _ in 0..<4 {
            let length = random(1..<4096)
            try add("\(length) random bytes", Data((0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }))
        }
        return cases
    }

    // MARK: - STAR particle files (duet reconstruct, which uses every column)

    private func starCases(_ f: Fixtures) throws -> [Case] {
        var cases: [Case] = []
        let lines = f.starText.components(separatedBy: "\n")
        let rows = lines.indices.filter { lines[$0].hasPrefix("0000") }
        func add(_ name: String, _ text: String) throws {
            let file = path("sim/star\(cases.count).star"), out = path("star\(cases.count)-out")
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            cases.append(Case(name: "star: \(name)", arguments: ["reconstruct", file, "--out", out], outputs: [out]))
        }
        func replacingField(row: Int, column: Int, with token: String) -> String {
            var copy = lines
            var fields = copy[row].split(separator: " ").map(String.init)
            fields[column] = token
            copy[row] = fields.joined(separator: " ")
            return copy.joined(separator: "\n")
        }
        let tokens = ["abc", "nan", "inf", "-inf", "1e999", "0x", "--", "1.2.3", "\"\"", "1e", "+-1"]
        for _ in 0..<40 {
            let row = pick(rows), column = random(1..<14), token = pick(tokens)
            try add("row \(row) column \(column + 1) = \(token)", replacingField(row: row, column: column, with: token))
        }
        let names = ["0@particles.mrcs", "-1@particles.mrcs", "9@particles.mrcs", "999999999999@particles.mrcs",
                     "abc@particles.mrcs", "1@missing.mrcs", "1@", "@particles.mrcs", "1@/nonexistent/x.mrcs",
                     "particles.mrcs", "1@../sim", "1@blobs.mrc", "1.5@particles.mrcs", "99999999999999999999@particles.mrcs"]
        for name in names {
            try add("image name \(name)", replacingField(row: pick(rows), column: 0, with: name))
        }
        for _ in 0..<15 {
            let row = pick(rows), drop = random(1..<14)
            var copy = lines
            copy[row] = copy[row].split(separator: " ").dropLast(drop).joined(separator: " ")
            try add("row \(row) without its last \(drop) fields", copy.joined(separator: "\n"))
        }
        for _ in 0..<5 {
            var copy = lines
            let row = pick(rows)
            copy[row] += " 1"
            try add("row \(row) with an extra field", copy.joined(separator: "\n"))
        }
        let structure = lines.indices.filter { lines[$0].hasPrefix("_rln") && !lines[$0].contains("rlnOpticsGroupName")
            || lines[$0] == "loop_" || lines[$0].hasPrefix("data_") }
        for line in structure {
            var copy = lines
            copy.remove(at: line)
            try add("line \(line + 1) (\(lines[line])) removed", copy.joined(separator: "\n"))
        }
        try add("empty file", "")
        try add("header only", lines.prefix(while: { !$0.hasPrefix("0000") }).joined(separator: "\n"))
        for _ in 0..<4 {
            let length = random(1..<4096)
            try add("\(length) random characters",
                    String((0..<length).map { _ in Character(UnicodeScalar(UInt8.random(in: 32...126, using: &generator))) }))
        }
        return cases
    }

    // MARK: - CryoSPARC .cs files (duet reconstruct)

    private func cryosparcCases(_ f: Fixtures) throws -> [Case] {
        var cases: [Case] = []
        let bytes = f.csBytes
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        let header = String(decoding: bytes[10..<(10 + headerLength)], as: UTF8.self)
        let dataStart = 10 + headerLength, recordLength = (bytes.count - dataStart) / 8
        func add(_ name: String, _ data: Data) throws {
            let file = path("sim/cs\(cases.count).cs"), out = path("cs\(cases.count)-out")
            try data.write(to: URL(fileURLWithPath: file))
            cases.append(Case(name: "cs: \(name)", arguments: ["reconstruct", file, "--out", out], outputs: [out]))
        }
        func withHeader(_ text: String) -> Data {
            // Padded to the same length so that the data starts where the header length says.
            var padded = text
            if padded.utf8.count < headerLength { padded = String(padded.dropLast()) + String(repeating: " ", count: headerLength - padded.utf8.count) + "\n" }
            return bytes.prefix(10) + Data(padded.utf8) + bytes.suffix(from: dataStart)
        }
        for _ in 0..<15 {
            let length = random(0..<(bytes.count - 1))
            try add("truncated to \(length) bytes", bytes.prefix(length))
        }
        for index in 0..<6 {
            var copy = bytes
            copy[index] ^= UInt8(random(1..<256))
            try add("magic byte \(index) changed", copy)
        }
        for version: UInt8 in [0, 4, 255] {
            var copy = bytes
            copy[6] = version
            try add("format version \(version)", copy)
        }
        for length in [0, 1, headerLength - 1, headerLength + 1, 65535, random(2..<headerLength - 2)] {
            var copy = bytes
            copy[8] = UInt8(length & 0xFF)
            copy[9] = UInt8(length >> 8)
            try add("header length \(length)", copy)
        }
        for (from, to) in [("'shape': (8,)", "'shape': (9,)"), ("'shape': (8,)", "'shape': (0,)"),
                           ("'shape': (8,)", "'shape': (-1,)"), ("'shape': (8,)", "'shape': (99999999999,)"),
                           ("'fortran_order': False", "'fortran_order': Trve"), ("'descr': [", "'descr': ("),
                           ("'blob/path'", "'blob/pbth'"), ("'blob/idx'", "'blob/idy'"),
                           ("'alignments3D/pose'", "'alignments3D/pise'"), ("('blob/idx', '<u4')", "('blob/idx', '<x4')"),
                           ("('ctf/df1_A', '<f4')", "('ctf/df1_A', '<f9')"), ("'<u8'", "'<u7'"), ("}", "]")] {
            XCTAssertTrue(header.contains(from), from)
            try add("header \(from) → \(to)", withHeader(header.replacingOccurrences(of: from, with: to)))
        }
        // Field values, at their offsets in a record: blob/idx (u4) after uid (8) and blob/path (14 bytes).
        let fields = Self.fieldOffsets(header)
        let hostile: [(String, [UInt32])] = [
            ("blob/idx", [8, 9, 1 << 31, .max]),
            ("blob/sign", [Float(0).bitPattern, Float(2).bitPattern, Float.nan.bitPattern]),
            ("blob/psize_A", [Float(0).bitPattern, Float(-1).bitPattern, Float.infinity.bitPattern]),
            ("ctf/df1_A", [Float.nan.bitPattern, Float.infinity.bitPattern]),
            ("ctf/accel_kv", [Float.nan.bitPattern]),
            ("alignments3D/pose", [Float.nan.bitPattern, Float.infinity.bitPattern]),
            ("alignments3D/shift", [Float.nan.bitPattern]),
            ("alignments3D/split", [2, .max]),
        ]
        for (field, values) in hostile {
            let offset = try XCTUnwrap(fields[field], field)
            for value in values {
                let record = random(0..<8)
                try add("record \(record) \(field) = 0x\(String(value, radix: 16))",
                        Self.replacing(bytes, at: dataStart + record * recordLength + offset, with: value))
            }
        }
        return cases
    }

    /// Byte offset of each field in a record, from a NPY header's `descr` list of (name, type[, shape]).
    private static func fieldOffsets(_ header: String) -> [String: Int] {
        var offsets: [String: Int] = [:], offset = 0
        let pattern = try! NSRegularExpression(pattern: #"\('([^']+)', '[<|>]?([a-zA-Z])(\d+)'(?:, \((\d+),\))?\)"#)
        for match in pattern.matches(in: header, range: NSRange(header.startIndex..., in: header)) {
            func group(_ i: Int) -> String? { Range(match.range(at: i), in: header).map { String(header[$0]) } }
            offsets[group(1)!] = offset
            offset += Int(group(3)!)! * (group(4).flatMap { Int($0) } ?? 1)
        }
        return offsets
    }

    // MARK: - Checkpoints (duet refine --resume)

    private func checkpointCases(_ f: Fixtures) throws -> [Case] {
        var cases: [Case] = []
        let states = try FileManager.default.contentsOfDirectory(atPath: f.run + "/checkpoint").filter { $0.hasSuffix(".sgd") }.sorted()
        XCTAssertEqual(states.count, 2)
        func add(_ name: String, _ damage: (String) throws -> Void) throws {
            let copy = path("run\(cases.count)")
            try FileManager.default.copyItem(atPath: f.run, toPath: copy)
            try damage(copy + "/checkpoint")
            cases.append(Case(name: "checkpoint: \(name)", arguments: ["refine", "--resume", copy], untouched: copy))
        }
        for _ in 0..<8 {
            let state = pick(states)
            let size = try Data(contentsOf: URL(fileURLWithPath: f.run + "/checkpoint/" + state)).count
            let length = random(0..<size)
            try add("\(state) truncated to \(length) bytes") { dir in
                let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + state))
                try data.prefix(length).write(to: URL(fileURLWithPath: dir + "/" + state))
            }
        }
        for _ in 0..<12 {
            let state = pick(states)
            let size = try Data(contentsOf: URL(fileURLWithPath: f.run + "/checkpoint/" + state)).count
            let position = random(0..<size), mask = UInt8(random(1..<256))
            try add("\(state) byte \(position) xor \(mask)") { dir in
                var data = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + state))
                data[position] ^= mask
                try data.write(to: URL(fileURLWithPath: dir + "/" + state))
            }
        }
        for state in states {
            try add("\(state) deleted") { try FileManager.default.removeItem(atPath: $0 + "/" + state) }
        }
        try add("checkpoint.json deleted") { try FileManager.default.removeItem(atPath: $0 + "/checkpoint.json") }
        for _ in 0..<6 {
            let length = random(0..<(f.checkpointJSON.utf8.count - 2))
            try add("checkpoint.json truncated to \(length) bytes") { dir in
                try Data(f.checkpointJSON.utf8.prefix(length)).write(to: URL(fileURLWithPath: dir + "/checkpoint.json"))
            }
        }
        XCTAssertTrue(f.checkpointJSON.contains("\"iteration\" : 1"))
        for iteration in ["0", "2", "5", "-1", "1.5", "\"one\"", "null"] {
            try add("checkpoint.json iteration \(iteration)") { dir in
                try f.checkpointJSON.replacingOccurrences(of: "\"iteration\" : 1", with: "\"iteration\" : \(iteration)")
                    .write(toFile: dir + "/checkpoint.json", atomically: true, encoding: .utf8)
            }
        }
        return cases
    }

    // MARK: - Option sets

    private func optionCases(_ f: Fixtures) -> [Case] {
        let sgd: [(String, [String])] = [
            ("--initial-resolution", ["0", "-5", "nan", "inf"]), ("--max-resolution", ["0", "-1", "nan", "1", "100"]),
            ("--initial-iterations", ["0", "-1"]), ("--final-iterations", ["-1"]), ("--initial-minibatch", ["0", "-3"]),
            ("--final-minibatch", ["-1"]), ("--minibatch-switch", ["-1"]),
            ("--initial-learning-rate", ["0", "-1", "nan", "inf"]), ("--high-lr-iterations", ["-1"]),
            ("--learning-rate", ["0", "nan", "-inf"]), ("--noise-initial-sigma-scale", ["0", "-1", "nan"]),
            ("--target-ess-fraction", ["0", "-0.5", "1", "1.5", "nan"]), ("--noise-prior-weight", ["-1", "nan", "inf"]),
            ("--diameter", ["0", "-10", "nan", "inf"]), ("--max-shift", ["-1"]),
            ("--min-align-resolution", ["0", "-1", "nan"]), ("--per-image-scale-sigma", ["0", "-1", "nan"]),
            ("--pose-search-modes", ["0", "-1"]), ("--symmetry", ["C0", "X5", "D-1", "", "I3", "C", "c-2", "D0"]),
            ("--particle-limit", ["0", "-1"]), ("--threads", ["0", "-2"]), ("--pixel-size", ["0", "-1", "nan", "inf"]),
        ]
        var cases: [Case] = []
        func add(_ command: [String], _ option: String, _ value: String) {
            let out = path("options\(cases.count)")
            cases.append(Case(name: "\(command[0]) \(option) \(value)", arguments: command + ["--out", out, option, value],
                              outputs: [out]))
        }
        for (option, values) in sgd {
            for value in values {
                add(["refine", f.star, "--refinement-rounds", "0"] + short, option, value)
                add(["abinit", f.star] + short, option, value)
            }
        }
        let refine: [(String, [String])] = [("--align-every", ["0", "-1"]), ("--checkpoint-every", ["-1"]),
                                            ("--refinement-rounds", ["-1"])]
        for (option, values) in refine { for value in values { add(["refine", f.star] + short, option, value) } }
        for (option, values) in [("--pixel-size", ["0", "-2", "nan"]), ("--symmetry", ["C0", "Q2"])] {
            for value in values { add(["reconstruct", f.posedStar], option, value) }
        }
        let simulate: [(String, [String])] = [
            ("--count", ["0", "-5"]), ("--snr", ["0", "-1", "nan", "inf"]), ("--max-shift", ["-1", "nan", "inf"]),
            ("--defocus-min", ["-1", "nan", "30000"]), ("--defocus-max", ["nan", "5000", "inf"]),
            ("--pixel-size", ["0", "-4", "nan"]),
        ]
        for (option, values) in simulate {
            for value in values { add(["simulate", f.map, "--count", "4"], option, value) }
        }
        return cases
    }

    // MARK: - Running a case

    /// What is wrong with how `c` ended, or nil when it ended as it must.
    private static func problem(of c: Case, in directory: URL) -> String? {
        let before = c.untouched.map(snapshot)
        let result: CommandRunner.Output
        do {
            result = try CommandRunner.duet(c.arguments, in: directory)
        } catch {
            return "could not run: \(error)"
        }
        if result.signalled { return "killed by signal \(result.status): \(result.stderr.suffix(500))" }
        if result.status == 0 { return "silent success" }
        if result.status != 1 { return "exit status \(result.status): \(result.stderr)" }
        let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        if lines.count != 1 || !lines[0].hasPrefix("duet: error: ") { return "stderr is not one error line: \(result.stderr)" }
        if let left = c.outputs.first(where: { FileManager.default.fileExists(atPath: $0) }) { return "left \(left) behind" }
        if let untouched = c.untouched, snapshot(untouched) != before { return "changed files in \(untouched)" }
        return nil
    }

    /// Every file under `directory` with its size and modification date.
    private static func snapshot(_ directory: String) -> [String: String] {
        var files: [String: String] = [:]
        let enumerator = FileManager.default.enumerator(atPath: directory)
        while let name = enumerator?.nextObject() as? String {
            let attributes = try? FileManager.default.attributesOfItem(atPath: directory + "/" + name)
            files[name] = "\(attributes?[.size] ?? 0) \(attributes?[.modificationDate] ?? 0)"
        }
        return files
    }

    private static func replacing(_ data: Data, at offset: Int, with value: UInt32) -> Data {
        var copy = data
        withUnsafeBytes(of: value.littleEndian) { copy.replaceSubrange(offset..<(offset + 4), with: $0) }
        return copy
    }

    /// Results written by concurrent workers, one slot per case.
    private final class Results: @unchecked Sendable {
        private var slots: [String?]
        private let lock = NSLock()
        init(count: Int) { slots = Array(repeating: nil, count: count) }
        func set(_ index: Int, _ value: String?) { lock.withLock { slots[index] = value } }
        var values: [String?] { lock.withLock { slots } }
    }
}
