import DuetFormats
import DuetTestSupport
import Foundation
import XCTest

/// `duet fsc`: the FSC of a map with itself is 1 everywhere; outputs are read by starfile and an XML parser;
/// mismatched maps fail with one line.
final class FSCCommandTests: XCTestCase {
    private let map = CommandRunner.fixtures.appendingPathComponent("tomodrgn/10076_classD_32.mrc").path
    private let other = CommandRunner.fixtures.appendingPathComponent("tomodrgn/10076_classE_32.mrc").path

    func testMapWithItselfHasFSCOneAndOutputsAreReadable() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let prefix = directory.appendingPathComponent("self").path
        let result = try CommandRunner.duet(["fsc", map, map, "--out", prefix])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("unmasked FSC: 0.143 at beyond Nyquist"), result.stdout)
        let table = try XCTUnwrap(StarReader.read(path: prefix + ".star").block(named: "fsc"))
        let values = try XCTUnwrap(table.doubleColumn("rlnFourierShellCorrelationUnmaskedMaps"))
        XCTAssertEqual(values.count, 17)
        for value in values { XCTAssertEqual(value, 1, accuracy: 1e-5) }
        let check = try CommandRunner.pythonOutput(["-c", """
            import starfile, sys, xml.etree.ElementTree as ET
            d = starfile.read(sys.argv[1] + '.star', always_dict=True)
            assert len(d['fsc']) == 17, d.keys()
            root = ET.parse(sys.argv[1] + '.svg').getroot()
            assert root.tag.endswith('svg') and len(root.findall('.//{http://www.w3.org/2000/svg}polyline')) == 1
            print('ok')
            """, prefix], needs: "python3 with starfile")
        XCTAssertEqual(check.stdout, "ok\n")
    }

    func testTwoConformationsWithAMaskGiveFourCurves() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // A soft spherical mask for the 32³ maps.
        let n = 32
        var mask = [Float](repeating: 0, count: n * n * n)
        for z in 0..<n { for y in 0..<n { for x in 0..<n {
            let r = (Double((x - n / 2) * (x - n / 2) + (y - n / 2) * (y - n / 2) + (z - n / 2) * (z - n / 2))).squareRoot()
            mask[(z * n + y) * n + x] = Float(min(1, max(0, (14 - r) / 3)))
        } } }
        let maskPath = directory.appendingPathComponent("mask.mrc").path
        try MRCWriter.writeVolume(nx: n, ny: n, nz: n, data: mask, pixelSize_A: 13.1, to: maskPath)
        let prefix = directory.appendingPathComponent("de").path
        let result = try CommandRunner.duet(["fsc", map, other, "--mask", maskPath, "--out", prefix, "--pixel-size", "13.1"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("masked, phase-randomisation corrected FSC: 0.143 at"), result.stdout)
        let table = try XCTUnwrap(StarReader.read(path: prefix + ".star").block(named: "fsc"))
        let corrected = try XCTUnwrap(table.doubleColumn("rlnFourierShellCorrelationCorrected"))
        XCTAssertEqual(corrected[0], 1, accuracy: 1e-9)
        XCTAssertLessThan(corrected.last!, 0.99, "two different conformations do not agree to Nyquist")
    }

    func testMismatchedMapsFailWithOneLine() throws {
        let result = try CommandRunner.duet(["fsc", map, CommandRunner.fixtures.appendingPathComponent("mrcfile/EMD-3197.map").path,
                                             "--out", "/tmp/never"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.hasPrefix("duet: error: "), result.stderr)
        XCTAssertTrue(result.stderr.contains("is 20×20×20 but"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/never.star"))
    }
}
