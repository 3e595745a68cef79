import DuetCore
import DuetEngine
import DuetFormats
import DuetKernels
import DuetTestSupport
import Foundation
import XCTest

/// `GoldStandardReport`: two half maps of one structure with independent noise. The automatic mask leaves most of
/// the noise out, so the masked, corrected FSC reaches at least the unmasked resolution; every file is read back
/// by Python (`numpy.loadtxt`, `starfile`, `mrcfile`, `struct`/`zlib`, an XML parser).
final class GoldStandardReportTests: XCTestCase {
    private let box = 64, pixel = 1.5

    /// A particle of radius ~12 px: 300 point masses at random voxels, low-passed with a wide cosine roll-off
    /// (full signal below Fourier radius 2, none beyond 26) so the signal falls gradually with resolution.
    private func structure() -> [Float] {
        var rng = SeededGenerator(seed: 5)
        var map = [Float](repeating: 0, count: box * box * box)
        let c = box / 2
        var placed = 0
        while placed < 300 {
            let p = (0..<3).map { _ in c - 12 + Int(rng.nextUnit() * 25) }
            guard (p.map { ($0 - c) * ($0 - c) }.reduce(0, +)) <= 144 else { continue }
            map[p[0] + box * (p[1] + box * p[2])] += 1
            placed += 1
        }
        LowPassFilter.apply(&map, box: box, pixelSize_A: pixel, resolution_A: Double(box) * pixel / 14, edgeWidth_px: 24)
        return map
    }

    private func noisy(_ map: [Float], sigma: Double, seed: UInt64) -> [Float] {
        var rng = SeededGenerator(seed: seed)
        return map.map { $0 + Float(sigma * rng.nextGaussian()) }
    }

    func testMaskedResolutionIsAtLeastTheUnmaskedOneAndFilesParse() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("report").path      // created by the report
        let map = structure()
        let signalRMS = (map.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(map.count)).squareRoot()
        let halfA = noisy(map, sigma: 2 * signalRMS, seed: 1), halfB = noisy(map, sigma: 2 * signalRMS, seed: 2)

        let started = Date()
        let summary = try GoldStandardReport.write(halfA: halfA, halfB: halfB, box: box, pixelSize_A: pixel, to: out)
        print(String(format: "gold-standard report (box %d) in %.2f s: unmasked %.2f Å, masked %.2f Å, mask %.1f %% of box",
                     box, Date().timeIntervalSince(started), summary.unmasked.resolution_A, summary.masked.resolution_A,
                     100 * summary.maskVolumeFraction))
        print(summary.description)
        XCTAssertTrue(summary.unmasked.crossed)
        XCTAssertLessThanOrEqual(summary.masked.resolution_A, summary.unmasked.resolution_A,
                                 "the masked FSC reaches at least the unmasked resolution")
        XCTAssertGreaterThan(summary.masked.shell, summary.unmasked.shell + 1, "the mask removes most of the noise")
        XCTAssertGreaterThan(summary.maskVolumeFraction, 0.02)
        XCTAssertLessThan(summary.maskVolumeFraction, 0.5)
        for name in GoldStandardReport.fileNames {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + name), name)
        }

        // The mask file holds the automatic mask of the same halves; the picture is the halves' montage.
        let mask = try MRCFile.readVolume(path: out + "/mask.mrc")
        XCTAssertEqual(mask.data, AutoMask.make(halfA: halfA, halfB: halfB, box: box, pixelSize_A: pixel).mask)
        let png = try Data(contentsOf: URL(fileURLWithPath: out + "/slices.png"))
        XCTAssertEqual(png, PNGWriter.encode(SliceMontage.image(volumes: [halfA, halfB], box: box)))
        let text = try String(contentsOfFile: out + "/fsc.txt", encoding: .utf8)
        XCTAssertTrue(text.contains(String(format: "unmasked: %.3f A", summary.unmasked.resolution_A)), text)

        let check = try CommandRunner.pythonOutput(["-c", """
            import sys, struct, zlib, numpy, mrcfile, starfile, xml.etree.ElementTree as ET
            out, box, pixel, masked = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
            table = numpy.loadtxt(out + '/fsc.txt', comments='#')
            assert table.shape == (box // 2 + 1, 4), table.shape
            assert (table[:, 0] == numpy.arange(box // 2 + 1)).all()
            assert numpy.allclose(table[1:, 1], box * pixel / table[1:, 0], rtol=1e-4) and numpy.isinf(table[0, 1])
            assert table[0, 2] == 1 and table[0, 3] == 1 and (abs(table[:, 2:]) <= 1.0001).all()
            star = starfile.read(out + '/fsc.star', always_dict=True)
            assert len(star['fsc']) == box // 2 + 1
            assert numpy.allclose(star['fsc']['rlnFourierShellCorrelationCorrected'], table[:, 3], atol=2e-6)
            assert abs(float(star['general']['rlnFinalResolution']) - masked) < 1e-3
            assert mrcfile.validate(out + '/mask.mrc', print_file=open('/dev/null', 'w'))
            with mrcfile.open(out + '/mask.mrc') as m:
                assert m.data.shape == (box, box, box) and abs(float(m.voxel_size.x) - pixel) < 1e-4
                assert m.data.min() >= 0 and m.data.max() == 1
            png = open(out + '/slices.png', 'rb').read()
            assert png[:8] == b'\\x89PNG\\r\\n\\x1a\\n' and png[12:16] == b'IHDR'
            width, height = struct.unpack('>II', png[16:24])
            assert (width, height) == (3 * box + 4, 2 * box + 2), (width, height)
            assert zlib.crc32(png[12:29]) & 0xFFFFFFFF == struct.unpack('>I', png[29:33])[0]
            root = ET.parse(out + '/fsc.svg').getroot()
            assert len(root.findall('.//{http://www.w3.org/2000/svg}polyline')) == 4
            print('ok')
            """, out, "\(box)", "\(pixel)", "\(summary.masked.resolution_A)"],
            needs: "python3 with numpy, mrcfile and starfile")
        XCTAssertEqual(check.stdout, "ok\n", check.stderr)
    }

    func testMismatchedHalvesThrow() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        XCTAssertThrowsError(try GoldStandardReport.write(halfA: [Float](repeating: 0, count: 8 * 8 * 8),
                                                          halfB: [Float](repeating: 0, count: 7 * 7 * 7), box: 8,
                                                          pixelSize_A: 2, to: directory.path)) { error in
            XCTAssertTrue("\(error)".contains("expected 8³"), "\(error)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [])
    }
}
