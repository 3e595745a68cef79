import DuetCore
@testable import DuetFormats
import DuetTestSupport
import Foundation
import XCTest

/// Tests of the MRC2014 reader and writer against the independent `mrcfile` Python package
/// (`Tests/Oracles/mrc_summary.py`) on every MRC fixture in `Tests/Fixtures`. python3 with numpy and mrcfile is
/// required: when it is missing the tests fail, they do not skip.
final class MRCTests: XCTestCase {
    // MARK: Fixtures and oracle

    static let oracle = CommandRunner.oraclePath("mrc_summary.py")
    static let particles = CommandRunner.fixtures.path + "/cryodrgn/real/empiar_10076_7.mrc"

    private var temporaryDirectory = ""

    override func setUpWithError() throws {
        temporaryDirectory = NSTemporaryDirectory() + "duet-mrc-tests-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: temporaryDirectory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: temporaryDirectory)
    }

    /// Runs the oracle with `arguments` and returns its JSON output. Fails (never skips) when python3, numpy or
    /// mrcfile is missing.
    func runOracle(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        do {
            return try CommandRunner.pythonJSONObject([Self.oracle] + arguments,
                                                      needs: "python3 with numpy and mrcfile (pip install mrcfile numpy)")
        } catch {
            XCTFail("mrcfile oracle \(arguments.joined(separator: " ")): \(error)", file: file, line: line)
            throw error
        }
    }

    /// Every `.mrc`, `.mrcs`, `.map` fixture (and compressed `.map.gz`/`.map.bz2`) under `Tests/Fixtures`.
    func fixtures() throws -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: CommandRunner.fixtures.path) else {
            XCTFail("fixture folder \(CommandRunner.fixtures.path) is missing")
            throw DuetError("no fixtures")
        }
        var found: [String] = []
        for case let relative as String in enumerator {
            let name = relative.lowercased()
            if name.hasSuffix(".mrc") || name.hasSuffix(".mrcs") || name.hasSuffix(".map")
                || name.contains(".mrc.") || name.contains(".mrcs.") || name.contains(".map.") {
                found.append(CommandRunner.fixtures.path + "/" + relative)
            }
        }
        return found.sorted()
    }

    static func isCompressed(_ path: String) -> Bool { path.hasSuffix(".gz") || path.hasSuffix(".bz2") }

    /// Checks one file read by Duet against the oracle's summary of it.
    func compare(_ path: String, with summary: [String: Any], file: StaticString = #filePath, line: UInt = #line) throws {
        if let error = summary["error"] { XCTFail("oracle cannot read \(path): \(error)", file: file, line: line); return }
        let name = (path as NSString).lastPathComponent
        let mrc = try MRCFile(path: path)
        let h = mrc.header
        func int(_ key: String) -> Int { (summary[key] as? NSNumber)?.intValue ?? Int.min }
        func double(_ key: String) -> Double { (summary[key] as? NSNumber)?.doubleValue ?? .nan }
        XCTAssertEqual([h.nx, h.ny, h.nz], [int("nx"), int("ny"), int("nz")], "\(name) dimensions", file: file, line: line)
        XCTAssertEqual(h.mode, int("mode"), "\(name) mode", file: file, line: line)
        XCTAssertEqual(h.ispg, int("ispg"), "\(name) ispg", file: file, line: line)
        XCTAssertEqual(h.nsymbt, int("nsymbt"), "\(name) nsymbt", file: file, line: line)
        XCTAssertEqual(h.nversion, int("nversion"), "\(name) nversion", file: file, line: line)
        XCTAssertEqual([h.mapc, h.mapr, h.maps], [int("mapc"), int("mapr"), int("maps")], "\(name) axis order",
                       file: file, line: line)
        XCTAssertEqual(h.exttypString, summary["exttyp"] as? String, "\(name) exttyp", file: file, line: line)
        XCTAssertEqual(h.machineStamp.map(Int.init), (summary["machst"] as? [NSNumber])?.map(\.intValue),
                       "\(name) machine stamp", file: file, line: line)
        XCTAssertEqual(h.hasMapID, summary["has_map_id"] as? Bool, "\(name) MAP id", file: file, line: line)
        XCTAssertEqual(mrc.dataOffset, 1024 + int("nsymbt"), "\(name) data offset", file: file, line: line)
        let voxel = double("voxel_size_x")
        if voxel == 0 {
            XCTAssertNil(mrc.pixelSize_A, "\(name) pixel size should be unset", file: file, line: line)
        } else {
            XCTAssertEqual(Double(mrc.pixelSize_A ?? -1), voxel, accuracy: 1e-6 * voxel, "\(name) pixel size",
                           file: file, line: line)
        }

        // File order: every section, compared by sums and by individual values.
        let all = try mrc.readImages(range: 0..<mrc.imageCount)
        XCTAssertEqual(all.count, h.nx * h.ny * h.nz, file: file, line: line)
        let tolerance = 1e-9 * double("abs_sum") + 1e-9
        XCTAssertEqual(all.reduce(0.0) { $0 + Double($1) }, double("sum"), accuracy: tolerance, "\(name) sum",
                       file: file, line: line)
        XCTAssertEqual(all.reduce(0.0) { $0 + abs(Double($1)) }, double("abs_sum"), accuracy: tolerance,
                       "\(name) sum |x|", file: file, line: line)
        let first = try mrc.readSection(index: 0)
        XCTAssertEqual(first.reduce(0.0) { $0 + Double($1) }, double("first_sum"), accuracy: tolerance,
                       "\(name) first section sum", file: file, line: line)

        // Physical order: the volume, indexed through the axis order.
        let volume = try mrc.readVolume()
        XCTAssertEqual(volume.count, all.count, file: file, line: line)
        XCTAssertEqual(volume.data.reduce(0.0) { $0 + Double($1) }, double("sum"), accuracy: tolerance,
                       "\(name) volume sum", file: file, line: line)
        let order = h.hasValidAxisOrder ? [h.mapc, h.mapr, h.maps] : [1, 2, 3]
        let samples = summary["samples"] as? [[String: NSNumber]] ?? []
        XCTAssertGreaterThan(samples.count, 5, file: file, line: line)
        for sample in samples {
            let (s, r, c) = (sample["s"]!.intValue, sample["r"]!.intValue, sample["c"]!.intValue)
            let expected = sample["value"]!.floatValue
            XCTAssertEqual(all[c + h.nx * (r + h.ny * s)], expected, "\(name) [s\(s) r\(r) c\(c)] in file order",
                           file: file, line: line)
            var p = [0, 0, 0]
            p[order[0] - 1] = c
            p[order[1] - 1] = r
            p[order[2] - 1] = s
            XCTAssertEqual(volume[p[0], p[1], p[2]], expected, "\(name) [s\(s) r\(r) c\(c)] at physical \(p)",
                           file: file, line: line)
        }
    }

    /// Asserts that `body` throws a one-line `DuetError` whose message contains every string in `contains`.
    func assertDuetError(_ contains: [String], file: StaticString = #filePath, line: UInt = #line,
                         _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("expected a DuetError containing \(contains)", file: file, line: line)
        } catch let error as DuetError {
            XCTAssertFalse(error.message.contains("\n"), "error must be one line: \(error.message)", file: file, line: line)
            for part in contains {
                XCTAssertTrue(error.message.contains(part), "'\(error.message)' should contain '\(part)'",
                              file: file, line: line)
            }
        } catch {
            XCTFail("expected a DuetError, got \(error)", file: file, line: line)
        }
    }

    // MARK: Every fixture

    func testEveryFixtureMatchesMrcfile() throws {
        let paths = try fixtures()
        // Tests/Fixtures holds 15 (13 plain, 2 compressed); the two largest of the original collection stayed out.
        XCTAssertGreaterThanOrEqual(paths.count, 15, "fixtures found: \(paths)")
        let summaries = try runOracle(paths)
        var checked = 0
        for path in paths {
            guard let summary = summaries[path] as? [String: Any] else { XCTFail("no oracle summary for \(path)"); continue }
            if Self.isCompressed(path) {
                // mrcfile reads these; Duet does not (no zlib/bzip2 dependency) and says so in one line.
                XCTAssertNil(summary["error"], "mrcfile should read \(path)")
                assertDuetError([path, path.hasSuffix(".gz") ? "gzip-compressed" : "bzip2-compressed"]) {
                    _ = try MRCFile(path: path)
                }
                continue
            }
            try compare(path, with: summary)
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 13)
    }

    func testHeaderSerialisationKeepsEveryFieldOfEveryFixture() throws {
        for path in try fixtures() where !Self.isCompressed(path) {
            let raw = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)).prefix(1024))
            let header = try MRCHeader(parsing: raw, source: path)
            let bytes = header.serialised()
            XCTAssertEqual(try MRCHeader(parsing: bytes, source: path), header, path)
            // Everything before the labels is byte-identical; labels are re-padded with spaces.
            XCTAssertEqual(Array(bytes[0..<224]), Array(raw[0..<224]), path)
        }
        var header = MRCHeader(nx: 5, ny: 6, nz: 7)
        header.byteOrder = .bigEndian
        header.machineStamp = MRCByteOrder.bigEndian.machineStamp
        header.labels = ["first", "second label"]
        header.origin_A = SIMD3(1.5, -2, 3)
        let parsed = try MRCHeader(parsing: header.serialised())
        XCTAssertEqual(parsed, header)
        XCTAssertEqual(parsed.byteOrder, .bigEndian)
    }

    func testKnownFixtureQuirks() throws {
        // Voxel size 0 in the header: unset, not 0 Å.
        for name in ["cryodrgn/real/empiar_10076_7.mrc", "aspire/volumes/clean70SRibosome_vol_65p.mrc"] {
            XCTAssertNil(try MRCFile(path: CommandRunner.fixtures.path + "/" + name).pixelSize_A, name)
        }
        // Stack written with a volume header (ispg 1): still readable image by image.
        let particles = try MRCFile(path: Self.particles)
        XCTAssertEqual(particles.header.ispg, 1)
        XCTAssertFalse(particles.isImageStack)
        XCTAssertEqual(particles.imageCount, 7)
        // Zero machine stamp (tomodrgn maps): byte order found from the mode and dimensions.
        let classD = try MRCFile(path: CommandRunner.fixtures.path + "/tomodrgn/10076_classD_32.mrc")
        XCTAssertEqual(classD.header.machineStamp, [0, 0, 0, 0])
        XCTAssertEqual(classD.header.byteOrder, .littleEndian)
        XCTAssertEqual(classD.pixelSize_A, 1)
        // Single-section ispg 0 file counts as an image (stack of one).
        let fei = try MRCFile(path: CommandRunner.fixtures.path + "/mrc_robustness/fei1_exthdr_crop256_mode6.mrc")
        XCTAssertTrue(fei.isImageStack)
        XCTAssertEqual(fei.imageCount, 1)
    }

    // MARK: Modes and byte orders

    /// The 7 real particles in modes 0, 1, 2 (both byte orders), 6 and 12 and with a volume header give the same
    /// images up to each mode's quantisation. The variants are made by mrcfile following
    /// Tests/Fixtures/mrc_robustness/PROVENANCE.md (the `.mrcs` copies listed there are absent from the fixtures); any
    /// copies that are present are checked too.
    func testEveryModeAndByteOrderGivesTheSameImages() throws {
        let made = try runOracle(["--make-variants", Self.particles, temporaryDirectory])
        var files = (made["files"] as? [String: String]) ?? [:]
        XCTAssertEqual(files.count, 7)
        let robustness = CommandRunner.fixtures.path + "/mrc_robustness"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: robustness)) ?? []
        where name.hasPrefix("empiar10076_7_") {
            files["fixture:" + name] = robustness + "/" + name
        }
        let summaries = try runOracle(Array(files.values).sorted())
        let reference = try MRCFile(path: Self.particles).readImages(range: 0..<7)
        XCTAssertEqual(reference.count, 7 * 320 * 320)
        var modesSeen = Set<Int>()
        var bigEndianSeen = false
        for (name, path) in files.sorted(by: { $0.key < $1.key }) {
            try compare(path, with: summaries[path] as? [String: Any] ?? [:])
            let mrc = try MRCFile(path: path)
            modesSeen.insert(mrc.header.mode)
            XCTAssertEqual(mrc.pixelSize_A ?? 0, 1.31, accuracy: 1e-5, name)
            let images = try mrc.readImages(range: 0..<7)
            XCTAssertEqual(images.count, reference.count, name)
            var worst: Float = 0
            switch mrc.header.mode {
            case 2:
                XCTAssertEqual(images, reference, name)
                if mrc.header.byteOrder == .bigEndian {
                    bigEndianSeen = true
                    XCTAssertEqual(mrc.header.machineStamp, [0x11, 0x11, 0, 0], name)
                }
            case 1:
                for (v, x) in zip(images, reference) { worst = max(worst, abs(v - 1000 * x)) }
                XCTAssertLessThanOrEqual(worst, 0.5 + 1e-3, name)
            case 0:
                XCTAssertLessThan(images.min() ?? 0, -50, "\(name): mode 0 is signed int8")
                for (v, x) in zip(images, reference) { worst = max(worst, abs(v - min(max(20 * x, -128), 127))) }
                XCTAssertLessThanOrEqual(worst, 0.5 + 1e-4, name)
            case 6:
                XCTAssertGreaterThan(images.max() ?? 0, 32767, "\(name): mode 6 is unsigned")
                for (v, x) in zip(images, reference) { worst = max(worst, abs(v - (1000 * x + 32768))) }
                XCTAssertLessThanOrEqual(worst, 0.5 + 1e-2, name)
            case 12:
                for (v, x) in zip(images, reference) { worst = max(worst, abs(v - x) / max(abs(x), 6.2e-5)) }
                XCTAssertLessThanOrEqual(worst, 1.0 / 2048 + 1e-7, name)
            default:
                XCTFail("unexpected mode \(mrc.header.mode) in \(name)")
            }
        }
        XCTAssertEqual(modesSeen, [0, 1, 2, 6, 12])
        XCTAssertTrue(bigEndianSeen)
    }

    func testByteOrderDetectedWithoutMachineStamp() throws {
        let made = try runOracle(["--make-variants", Self.particles, temporaryDirectory])
        let files = (made["files"] as? [String: String]) ?? [:]
        for name in ["mode2_float32_bigendian.mrcs", "mode1_int16_scaled1000.mrcs"] {
            let path = try XCTUnwrap(files[name])
            let expected = try MRCFile(path: path).readImages(range: 0..<7)
            var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            bytes.replaceSubrange(208..<216, with: [UInt8](repeating: 0, count: 8)) // no "MAP ", zero stamp
            let copy = temporaryDirectory + "/nostamp-" + name
            try bytes.write(to: URL(fileURLWithPath: copy))
            let mrc = try MRCFile(path: copy)
            XCTAssertFalse(mrc.header.hasMapID)
            XCTAssertEqual(mrc.header.byteOrder, name.contains("bigendian") ? .bigEndian : .littleEndian, name)
            XCTAssertEqual(try mrc.readImages(range: 0..<7), expected, name)
        }
    }

    func testHalfPrecisionConversionIsExact() {
        #if !(os(macOS) && arch(x86_64))
        for bits in 0...UInt16.max {
            let expected = Float(Float16(bitPattern: bits))
            let got = MRCConversion.halfToFloat(bits)
            if expected.isNaN {
                XCTAssertTrue(got.isNaN, "\(bits)")
            } else {
                XCTAssertEqual(got.bitPattern, expected.bitPattern, "half \(bits)")
            }
        }
        #endif
        XCTAssertEqual(MRCConversion.halfToFloat(0x3c00), 1)
        XCTAssertEqual(MRCConversion.halfToFloat(0xc000), -2)
        XCTAssertEqual(MRCConversion.halfToFloat(0x0001), 0x1p-24)
        XCTAssertEqual(MRCConversion.halfToFloat(0x7c00), .infinity)
    }

    // MARK: Extended headers and axis order

    func testFEIExtendedHeadersAreSkipped() throws {
        let cases: [(String, Int, String, Float)] = [
            ("fei1_exthdr_crop256_mode6.mrc", 786_432, "FEI1", 0.8538),
            ("fei2_epu29_exthdr_crop256_mode6.mrc", 909_312, "FEI2", 0.6666),
        ]
        for (name, extended, type, pixel) in cases {
            let path = CommandRunner.fixtures.path + "/mrc_robustness/" + name
            let mrc = try MRCFile(path: path)
            XCTAssertEqual(mrc.header.nsymbt, extended, name)
            XCTAssertEqual(mrc.header.exttypString, type, name)
            XCTAssertEqual(mrc.header.mode, 6, name)
            XCTAssertEqual(mrc.dataOffset, 1024 + extended, name)
            XCTAssertEqual(mrc.fileSize, 1024 + extended + 256 * 256 * 2, name)
            XCTAssertEqual(mrc.pixelSize_A ?? 0, pixel, accuracy: 1e-4, name)
            let image = try mrc.readSection(index: 0)
            XCTAssertEqual(image.count, 256 * 256)
            // Data of a uint16 micrograph: counts, not extended-header floats.
            XCTAssertTrue(image.allSatisfy { $0 >= 0 && $0 <= 65535 && $0 == $0.rounded() }, name)
            let summary = try runOracle([path])[path] as? [String: Any] ?? [:]
            try compare(path, with: summary)
        }
    }

    func testEMD3001AxisOrderIsApplied() throws {
        let path = CommandRunner.fixtures.path + "/mrcfile/EMD-3001.map"
        let mrc = try MRCFile(path: path)
        XCTAssertEqual([mrc.header.mapc, mrc.header.mapr, mrc.header.maps], [3, 1, 2])
        XCTAssertEqual([mrc.header.nx, mrc.header.ny, mrc.header.nz], [73, 43, 25])
        XCTAssertEqual(mrc.header.nsymbt, 160)
        XCTAssertEqual([mrc.header.nxstart, mrc.header.nystart, mrc.header.nzstart], [0, -21, -12])
        let volume = try mrc.readVolume()
        // Columns run along z, rows along x, sections along y.
        XCTAssertEqual([volume.nx, volume.ny, volume.nz], [43, 25, 73])
        XCTAssertEqual(volume.pixelSize_A ?? 0, 17.93 / 40, accuracy: 1e-6)
        let fileOrder = try mrc.readImages(range: 0..<25)
        for s in stride(from: 0, to: 25, by: 4) {
            for r in stride(from: 0, to: 43, by: 5) {
                for c in stride(from: 0, to: 73, by: 6) {
                    XCTAssertEqual(volume[r, s, c], fileOrder[c + 73 * (r + 43 * s)])
                }
            }
        }
        let summary = try runOracle([path])[path] as? [String: Any] ?? [:]
        try compare(path, with: summary)
    }

    // MARK: Ranges and performance

    func testReadingARangeEqualsSlicingTheFullRead() throws {
        let made = try runOracle(["--make-variants", Self.particles, temporaryDirectory])
        let files = (made["files"] as? [String: String]) ?? [:]
        let paths = [Self.particles] + ["mode2_float32_bigendian.mrcs", "mode12_float16.mrcs", "mode0_int8_scaled20.mrcs"]
            .compactMap { files[$0] }
        XCTAssertEqual(paths.count, 4)
        for path in paths {
            let full = try MRCFile(path: path).readImages(range: 0..<7)
            let perImage = 320 * 320
            let mrc = try MRCFile(path: path)
            for range in [0..<1, 2..<5, 6..<7, 0..<7, 3..<3] {
                let part = try mrc.readImages(range: range)
                XCTAssertEqual(part, Array(full[(range.lowerBound * perImage)..<(range.upperBound * perImage)]),
                               "\(path) \(range)")
            }
            var reused: [Float] = []
            for i in 0..<7 {
                XCTAssertEqual(try mrc.readSection(index: i), Array(full[(i * perImage)..<((i + 1) * perImage)]))
                try mrc.readImages(range: i..<(i + 1), into: &reused)
                XCTAssertEqual(reused, Array(full[(i * perImage)..<((i + 1) * perImage)]))
            }
            // Only the requested bytes are read.
            let fresh = try MRCFile(path: path)
            XCTAssertEqual(fresh.dataBytesRead, 0)
            _ = try fresh.readImages(range: 2..<5)
            XCTAssertEqual(fresh.dataBytesRead, 3 * perImage * fresh.bytesPerVoxel)
        }
    }

    /// A 1 GiB sparse stack: opening reads only the header, and the last image is read without touching the rest.
    func testLastImageOfAHugeStackReadsOnlyThatImage() throws {
        let (n, count) = (256, 4096)
        let path = temporaryDirectory + "/huge.mrcs"
        var header = MRCWriter.makeHeader(nx: n, ny: n, nz: count, imageStack: true, pixelSize_A: 2)
        header.nsymbt = 0
        let image = (0..<(n * n)).map { Float($0 % 1000) - 500 }
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.write(contentsOf: header.serialised())
        try handle.truncate(atOffset: UInt64(1024 + n * n * 4 * count))
        try handle.seek(toOffset: UInt64(1024 + n * n * 4 * (count - 1)))
        try handle.write(contentsOf: image.withUnsafeBytes { Data($0) })
        try handle.close()

        let start = Date()
        let mrc = try MRCFile(path: path)
        XCTAssertEqual(mrc.imageCount, count)
        XCTAssertEqual(try mrc.readSection(index: count - 1), image)
        XCTAssertEqual(try mrc.readSection(index: 17), [Float](repeating: 0, count: n * n))
        XCTAssertEqual(mrc.dataBytesRead, 2 * n * n * 4)
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        assertDuetError(["image \(count) requested but \(path) has \(count)"]) {
            _ = try mrc.readSection(index: count)
        }
    }

    // MARK: Writer

    func testWrittenVolumeValidatesAndRoundTripsExactly() throws {
        for (nx, ny, nz, pixel) in [(17, 12, 9, Float(1.5)), (32, 32, 32, Float(0.83)), (5, 4, 3, nil)] as [(Int, Int, Int, Float?)] {
            var generator = SeededGenerator(seed: UInt64(nx))
            let data = (0..<(nx * ny * nz)).map { _ in Float.random(in: -3...7, using: &generator) }
            let path = temporaryDirectory + "/volume-\(nx).mrc"
            try MRCWriter.writeVolume(MRCVolume(nx: nx, ny: ny, nz: nz, pixelSize_A: pixel, data: data), to: path)
            let report = try runOracle(["--validate", path])
            XCTAssertEqual(report["valid"] as? Bool, true, "\(path): \(report["messages"] ?? "")")

            let mrc = try MRCFile(path: path)
            let h = mrc.header
            XCTAssertEqual(h.mode, 2)
            XCTAssertEqual(h.byteOrder, .littleEndian)
            XCTAssertEqual(h.machineStamp, [0x44, 0x44, 0, 0])
            XCTAssertTrue(h.hasMapID)
            XCTAssertEqual(h.nversion, 20140)
            XCTAssertEqual(h.ispg, 1)
            XCTAssertEqual([h.mx, h.my, h.mz], [nx, ny, nz])
            XCTAssertEqual([h.mapc, h.mapr, h.maps], [1, 2, 3])
            XCTAssertEqual(h.cellAngles_deg, SIMD3(90, 90, 90))
            XCTAssertEqual(h.cellLengths_A, SIMD3(Float(nx), Float(ny), Float(nz)) * (pixel ?? 0))
            XCTAssertEqual(h.origin_A, .zero)
            XCTAssertEqual(h.nsymbt, 0)
            XCTAssertEqual(h.labels, ["Duet"])
            XCTAssertEqual(h.dmin, data.min())
            XCTAssertEqual(h.dmax, data.max())
            let mean = data.reduce(0.0) { $0 + Double($1) } / Double(data.count)
            let variance = data.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(data.count)
            XCTAssertEqual(Double(h.dmean), mean, accuracy: 1e-5)
            XCTAssertEqual(Double(h.rms), variance.squareRoot(), accuracy: 1e-5)
            if let pixel { XCTAssertEqual(mrc.pixelSize_A ?? 0, pixel, accuracy: 1e-6) } else { XCTAssertNil(mrc.pixelSize_A) }
            XCTAssertEqual(mrc.fileSize, 1024 + 4 * data.count)
            let back = try mrc.readVolume()
            XCTAssertEqual(back.data, data)
            XCTAssertEqual([back.nx, back.ny, back.nz], [nx, ny, nz])
            try compare(path, with: try runOracle([path])[path] as? [String: Any] ?? [:])
        }
    }

    func testWrittenStackValidatesAndRoundTripsExactly() throws {
        let reference = try MRCFile(path: Self.particles)
        let images = try reference.readImages(range: 0..<7)
        let path = temporaryDirectory + "/stack.mrcs"
        try MRCWriter.writeImageStack(nx: 320, ny: 320, images: images, pixelSize_A: 1.31, to: path,
                                      label: "Duet test stack")
        let report = try runOracle(["--validate", path])
        XCTAssertEqual(report["valid"] as? Bool, true, "\(report["messages"] ?? "")")
        let mrc = try MRCFile(path: path)
        XCTAssertEqual(mrc.header.ispg, 0)
        XCTAssertTrue(mrc.isImageStack)
        XCTAssertEqual([mrc.header.mx, mrc.header.my, mrc.header.mz], [320, 320, 1])
        XCTAssertEqual(mrc.header.labels, ["Duet test stack"])
        XCTAssertEqual(mrc.pixelSize_A ?? 0, 1.31, accuracy: 1e-6)
        XCTAssertEqual(try mrc.readImages(range: 0..<7), images)
        try compare(path, with: try runOracle([path])[path] as? [String: Any] ?? [:])

        // Streaming form, one image at a time, odd sizes.
        let streamed = temporaryDirectory + "/streamed.mrcs"
        try MRCWriter.writeImageStack(nx: 7, ny: 5, count: 4, pixelSize_A: 2.5, to: streamed) { i, out in
            for j in 0..<out.count { out[j] = Float(i * 100 + j) }
        }
        XCTAssertEqual(try runOracle(["--validate", streamed])["valid"] as? Bool, true)
        let back = try MRCFile(path: streamed)
        XCTAssertEqual(try back.readSection(index: 3), (0..<35).map { Float(300 + $0) })
        XCTAssertEqual(back.header.dmin, 0)
        XCTAssertEqual(back.header.dmax, 334)
    }

    func testWriterFailuresLeaveNoFile() throws {
        let path = temporaryDirectory + "/bad.mrc"
        assertDuetError([path, "values"]) {
            try MRCWriter.writeVolume(nx: 4, ny: 4, nz: 4, data: [1, 2, 3], pixelSize_A: 1, to: path)
        }
        assertDuetError([path, "pixel size"]) {
            try MRCWriter.writeVolume(nx: 1, ny: 1, nz: 1, data: [1], pixelSize_A: -1, to: path)
        }
        assertDuetError([path, "not a whole number"]) {
            try MRCWriter.writeImageStack(nx: 4, ny: 4, images: [Float](repeating: 0, count: 20), pixelSize_A: 1, to: path)
        }
        struct Interrupted: Error {}
        XCTAssertThrowsError(try MRCWriter.writeImageStack(nx: 4, ny: 4, count: 3, pixelSize_A: 1, to: path) { i, _ in
            if i == 2 { throw Interrupted() }
        })
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: temporaryDirectory)
                       .filter { !$0.hasPrefix("oracle") }, [])
        let missing = temporaryDirectory + "/no/such/dir/out.mrc"
        assertDuetError(["out.mrc"]) {
            try MRCWriter.writeVolume(nx: 1, ny: 1, nz: 1, data: [1], pixelSize_A: 1, to: missing)
        }
        // A failed write leaves an existing file untouched.
        try MRCWriter.writeVolume(nx: 2, ny: 1, nz: 1, data: [1, 2], pixelSize_A: 1, to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try MRCWriter.writeImageStack(nx: 2, ny: 1, count: 2, pixelSize_A: 1, to: path) { _, _ in
            throw Interrupted()
        })
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: temporaryDirectory)
                       .filter { !$0.hasPrefix("oracle") }, ["bad.mrc"])
    }

    // MARK: Reader errors

    func testReaderErrorsAreOneLineAndNameTheFile() throws {
        let source = try Data(contentsOf: URL(fileURLWithPath: Self.particles))

        let missing = temporaryDirectory + "/missing.mrcs"
        assertDuetError([missing, "no such file"]) { _ = try MRCFile(path: missing) }

        let short = temporaryDirectory + "/short.mrc"
        try source.prefix(100).write(to: URL(fileURLWithPath: short))
        assertDuetError([short, "shorter than the 1024-byte header"]) { _ = try MRCFile(path: short) }

        let truncated = temporaryDirectory + "/truncated.mrcs"
        try source.prefix(source.count - 1000).write(to: URL(fileURLWithPath: truncated))
        assertDuetError([truncated, "truncated"]) { _ = try MRCFile(path: truncated) }

        var huge = MRCHeader(nx: 1 << 28, ny: 1 << 28, nz: 1 << 28)
        huge.mode = 2
        let hugePath = temporaryDirectory + "/huge-header.mrc"
        try Data(huge.serialised()).write(to: URL(fileURLWithPath: hugePath))
        assertDuetError([hugePath, "truncated"]) { _ = try MRCFile(path: hugePath) }

        let text = temporaryDirectory + "/particles.star"
        try Data(String(repeating: "data_particles\nloop_\n_rlnImageName #1\n", count: 60).utf8)
            .write(to: URL(fileURLWithPath: text))
        assertDuetError([text, "not an MRC file"]) { _ = try MRCFile(path: text) }
        let numpy = CommandRunner.fixtures.path + "/cryodrgn/real/empiar_10076_7.cs"
        assertDuetError([numpy, "not an MRC file"]) { _ = try MRCFile(path: numpy) }

        var complex = source
        complex.replaceSubrange(12..<16, with: [4, 0, 0, 0])
        let complexPath = temporaryDirectory + "/complex.mrc"
        try complex.write(to: URL(fileURLWithPath: complexPath))
        assertDuetError([complexPath, "mode 4", "not supported"]) { _ = try MRCFile(path: complexPath) }

        assertDuetError([temporaryDirectory, "not a regular file"]) { _ = try MRCFile(path: temporaryDirectory) }

        let stack = try MRCFile(path: Self.particles)
        assertDuetError(["image 12 requested but \(Self.particles) has 7"]) { _ = try stack.readSection(index: 12) }
        assertDuetError(["image 7 requested but \(Self.particles) has 7"]) { _ = try stack.readImages(range: 5..<8) }
        assertDuetError(["image -1 requested"]) { _ = try stack.readImages(range: -1..<2) }

        for name in ["mrcfile/emd_3197.map.gz", "mrcfile/EMD-3197.map.bz2"] {
            let path = CommandRunner.fixtures.path + "/" + name
            assertDuetError([path, "compressed"]) { _ = try MRCFile(path: path) }
        }
    }
}
