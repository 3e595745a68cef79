import DuetFormats
import DuetTestSupport
import Foundation
import XCTest

/// `duet align`: a map moved by an exact voxel permutation (90° about z, mirrored in z, cyclic shift) is put back
/// onto the original; bad inputs fail with one line.
final class AlignCommandTests: XCTestCase {
    private let mapPath = CommandRunner.fixtures.appendingPathComponent("tomodrgn/10076_classD_32.mrc").path

    func testMovedAndMirroredMapIsAlignedBack() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let a = try MRCFile.readVolume(path: mapPath)
        let n = a.nx, c = n / 2
        // B(x) = A(T⁻¹x) for T(x) = Rz(90°)·M·x + t, M = diag(1, 1, −1):
        // T⁻¹x = M·Rᵀ·(x − t) = (y₁, −y₀, −y₂) with y = x − t (offsets from the centre voxel, cyclic).
        let t = SIMD3(2, -1, 3)
        var b = a
        for z in 0..<n { for y in 0..<n { for x in 0..<n {
            let d = SIMD3(x - c, y - c, z - c) &- t
            let source = SIMD3(d.y, -d.x, -d.z) &+ c
            let wrapped = SIMD3((source.x % n + n) % n, (source.y % n + n) % n, (source.z % n + n) % n)
            b[x, y, z] = a[wrapped.x, wrapped.y, wrapped.z]
        } } }
        let bPath = directory.appendingPathComponent("moved.mrc").path
        let outPath = directory.appendingPathComponent("aligned.mrc").path
        try MRCWriter.writeVolume(b, to: bPath)
        XCTAssertLessThan(TestMetrics.ncc(b.data, a.data), 0.5)

        let result = try CommandRunner.duet(["align", mapPath, bPath, "--out", outPath, "--pixel-size", "13.1"])
        XCTAssertEqual(result.status, 0, result.stderr)
        print(result.stdout)
        let lines = result.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, result.stdout)
        XCTAssertTrue(result.stdout.hasPrefix("rotation (rot, tilt, psi) = ("), result.stdout)
        XCTAssertTrue(result.stdout.contains("mirrored = yes"), result.stdout)
        let aligned = try MRCFile.readVolume(path: outPath)
        XCTAssertEqual(aligned.nx, n)
        XCTAssertEqual(Double(try XCTUnwrap(aligned.pixelSize_A)), 13.1, accuracy: 1e-4)
        let ncc = TestMetrics.ncc(aligned.data, a.data)
        print("aligned B vs A: NCC \(ncc)")
        XCTAssertGreaterThan(ncc, 0.95)
    }

    func testMissingFileAndMismatchedBoxesFailWithOneLine() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outPath = directory.appendingPathComponent("never.mrc").path
        let small = CommandRunner.fixtures.appendingPathComponent("mrcfile/EMD-3197.map").path
        for (arguments, message) in [([mapPath, directory.appendingPathComponent("absent.mrc").path], "absent.mrc"),
                                     ([mapPath, small], "is 20×20×20 but")] {
            let result = try CommandRunner.duet(["align"] + arguments + ["--out", outPath])
            XCTAssertNotEqual(result.status, 0)
            XCTAssertTrue(result.stderr.hasPrefix("duet: error: "), result.stderr)
            XCTAssertTrue(result.stderr.contains(message), result.stderr)
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: outPath))
        }
    }
}
