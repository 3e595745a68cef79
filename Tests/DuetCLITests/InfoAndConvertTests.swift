import DuetFormats
import DuetTestSupport
import Foundation
import XCTest

/// `duet info` and `duet convert` as a person runs them: summaries of real fixtures, conversion both ways, and
/// bad input answered with one line on stderr, a non-zero exit and no output file.
final class InfoAndConvertTests: XCTestCase {
    private let data = CommandRunner.fixtures.path

    func testInfoSummarisesParticlesStacksAndMaps() throws {
        let star = try CommandRunner.duet(["info", data + "/cryodrgn/metadata/relion31.6opticsgroups.star"])
        XCTAssertEqual(star.status, 0, star.stderr)
        for expected in ["RELION STAR 3.1+", "particles             139", "optics groups         6",
                         "pixel size            1.2400 – 1.2500 Å", "poses                 139 of 139",
                         "half-set split        A 74, B 65", "voltage             200.0 kV"] {
            XCTAssertTrue(star.stdout.contains(expected), "missing '\(expected)' in\n\(star.stdout)")
        }
        let cs = try CommandRunner.duet(["info", data + "/cryodrgn/real/empiar_10076_7.cs"])
        XCTAssertEqual(cs.status, 0, cs.stderr)
        XCTAssertTrue(cs.stdout.contains("particles             7"), cs.stdout)
        XCTAssertTrue(cs.stdout.contains("box                   320 px"), cs.stdout)
        XCTAssertTrue(cs.stdout.contains("poses                 no"), cs.stdout)
        let map = try CommandRunner.duet(["info", data + "/mrcfile/EMD-3001.map"])
        XCTAssertEqual(map.status, 0, map.stderr)
        XCTAssertTrue(map.stdout.contains("73 × 43 × 25 (axis order 3 1 2)"), map.stdout)
        let other = try CommandRunner.duet(["info", data + "/starfile/postprocess.star"])
        XCTAssertTrue(other.stdout.contains("data_fsc            0 item(s), loop of 49 rows × 7 columns"), other.stdout)
    }

    func testConvertBothWaysFromTheCommandLine() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let cs = directory.appendingPathComponent("particles.cs").path
        let star = directory.appendingPathComponent("back.star").path
        let first = try CommandRunner.duet(["convert", data + "/cryodrgn/real/relion31.star", cs])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertEqual(first.stdout, "wrote 5 particles to \(cs)\n")
        let second = try CommandRunner.duet(["convert", cs, star])
        XCTAssertEqual(second.status, 0, second.stderr)
        let original = try ParticleFile.read(data + "/cryodrgn/real/relion31.star").particles
        let back = try ParticleFile.read(star).particles
        for (a, b) in zip(original, back) {
            XCTAssertLessThan(a.pose!.rotation.angularDistance_rad(to: b.pose!.rotation) * 180 / .pi, 1e-4)
            XCTAssertEqual(a.halfSet, b.halfSet)
        }
        // The converted STAR still points at the original stack.
        XCTAssertEqual(try ParticleFile.read(star).imagePath(of: back[0]).components(separatedBy: "/").last, "relion31.mrcs")
    }

    private func assertFailsCleanly(_ arguments: [String], _ expected: String, noFile: String? = nil,
                                    file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try CommandRunner.duet(arguments)
        XCTAssertNotEqual(result.status, 0, "\(arguments) should fail", file: file, line: line)
        XCTAssertEqual(result.stdout, "", file: file, line: line)
        XCTAssertTrue(result.stderr.hasPrefix("duet: error: "), result.stderr, file: file, line: line)
        XCTAssertTrue(result.stderr.contains(expected), "expected '\(expected)' in: \(result.stderr)", file: file, line: line)
        XCTAssertEqual(result.stderr.filter { $0 == "\n" }.count, 1, "one line: \(result.stderr)", file: file, line: line)
        XCTAssertFalse(result.stderr.contains("Fatal error"), file: file, line: line)
        if let noFile {
            XCTAssertFalse(FileManager.default.fileExists(atPath: noFile), "\(noFile) must not exist", file: file, line: line)
        }
    }

    func testBadInputGivesOneLineAndNoOutput() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("out.cs").path
        // Missing file, unknown format.
        try assertFailsCleanly(["info", directory.path + "/missing.star"], "missing.star: no such file")
        try assertFailsCleanly(["convert", directory.path + "/missing.star", out], "no such file", noFile: out)
        let text = directory.appendingPathComponent("notes.txt").path
        try "hello".write(toFile: text, atomically: true, encoding: .utf8)
        try assertFailsCleanly(["info", text], "unknown file format")
        try assertFailsCleanly(["convert", data + "/cryodrgn/real/relion31.star", directory.path + "/out.mrc"],
                               "unknown particle file format", noFile: directory.path + "/out.mrc")
        // A STAR file missing its image column; a malformed STAR file.
        let noImages = directory.appendingPathComponent("noimages.star").path
        try "data_particles\nloop_\n_rlnDefocusU\n_rlnAngleRot\n1000 3\n".write(toFile: noImages, atomically: true, encoding: .utf8)
        try assertFailsCleanly(["convert", noImages, out], "has no column _rlnImageName", noFile: out)
        try assertFailsCleanly(["info", data + "/aspire/metadata/sample.star"], "line 20")
        // A truncated stack.
        let original = try Data(contentsOf: URL(fileURLWithPath: data + "/cryodrgn/real/empiar_10076_7.mrc"))
        let truncated = directory.appendingPathComponent("truncated.mrcs").path
        try original.prefix(original.count - 1000).write(to: URL(fileURLWithPath: truncated))
        try assertFailsCleanly(["info", truncated], "truncated")
        // An image index past the end of its stack.
        try FileManager.default.copyItem(atPath: data + "/cryodrgn/real/empiar_10076_7.mrc",
                                         toPath: directory.appendingPathComponent("stack.mrcs").path)
        let pastEnd = directory.appendingPathComponent("pastend.star").path
        try "data_\nloop_\n_rlnImageName\n_rlnDefocusU\n7@stack.mrcs 1000\n8@stack.mrcs 1000\n"
            .write(toFile: pastEnd, atomically: true, encoding: .utf8)
        try assertFailsCleanly(["info", pastEnd], "particle 2: image 8 requested but")
        // An output directory that does not exist; an existing output is left untouched by a failure.
        try assertFailsCleanly(["convert", data + "/cryodrgn/real/relion31.star", directory.path + "/no/dir/x.cs"],
                               "cannot create", noFile: directory.path + "/no/dir/x.cs")
        try "keep me".write(toFile: out, atomically: true, encoding: .utf8)
        try assertFailsCleanly(["convert", noImages, out], "has no column _rlnImageName")
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), "keep me")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix(".") }, [])
    }
}
