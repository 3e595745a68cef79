import DuetCore
import DuetFormats
import DuetKernels
import DuetTestSupport
import Foundation
import XCTest

/// `duet reconstruct` on particles simulated by `duet simulate`: the map matches the truth, outputs are valid MRC
/// and STAR, and runs under `mpirun -np 1, 2, 4` give the same maps to float round-off.
final class ReconstructTests: XCTestCase {
    private static let map = CommandRunner.fixtures.appendingPathComponent("cryojax/3j9g_potential_ps4_4.mrc").path

    private func simulate(into directory: URL, count: Int, extra: [String] = []) throws -> String {
        let result = try CommandRunner.duet(["simulate", Self.map, "--out", directory.path, "--count", "\(count)",
                                             "--seed", "11"] + extra)
        XCTAssertEqual(result.status, 0, result.stderr)
        return directory.appendingPathComponent("truth.star").path
    }

    func testNoiselessReconstructionMatchesTheTruthAndOutputsAreValid() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let truth = try simulate(into: directory, count: 400, extra: ["--no-noise"])
        let out = directory.appendingPathComponent("rec").path
        let result = try CommandRunner.duet(["reconstruct", truth, "--out", out])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("reconstructed"), result.stdout)
        let reference = try MRCFile.readVolume(path: Self.map)
        let reconstruction = try MRCFile.readVolume(path: out + "/map.mrc")
        let curve = FourierShellCorrelation.curve(reconstruction.data, reference.data, box: 64, pixelSize_A: 4.4)
        // Noiseless, CTF-corrected, 400 views: right to well past half Nyquist.
        XCTAssertGreaterThan(curve.values[16], 0.9, "FSC vs truth at shell 16: \(curve.values)")
        let check = try CommandRunner.pythonOutput(["-c", """
            import io, mrcfile, starfile, sys
            for name in ('half_A', 'half_B', 'map'):
                assert mrcfile.validate(f'{sys.argv[1]}/{name}.mrc', print_file=io.StringIO()), name
            p = starfile.read(f'{sys.argv[1]}/particles.star', always_dict=True)['particles']
            assert len(p) == 400 and set(p['rlnRandomSubset']) == {1, 2}
            print('ok')
            """, out], needs: "python3 with mrcfile and starfile")
        XCTAssertEqual(check.stdout, "ok\n", check.stderr)
    }

    func testMpirunOneTwoFourRanksGiveTheSameMaps() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let truth = try simulate(into: directory, count: 120, extra: ["--snr", "0.3"])
        var maps: [[Float]] = []
        for ranks in [1, 2, 4] {
            let out = directory.appendingPathComponent("rec\(ranks)").path
            let result = try CommandRunner.mpirunDuet(ranks: ranks, ["reconstruct", truth, "--out", out])
            XCTAssertEqual(result.status, 0, "np \(ranks): \(result.stderr)")
            XCTAssertTrue(result.stdout.contains("on \(ranks) rank(s)"), result.stdout)
            maps.append(try MRCFile.readVolume(path: out + "/half_A.mrc").data)
        }
        let scale = maps[0].map { abs($0) }.max()!
        for other in maps.dropFirst() {
            let difference = zip(maps[0], other).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(difference, 1e-4 * scale, "maps differ by more than float round-off")
        }
    }

    func testParticlesWithoutPosesFailWithOneLine() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try simulate(into: directory, count: 4, extra: ["--no-noise"])
        let out = directory.appendingPathComponent("rec").path
        let result = try CommandRunner.duet(["reconstruct", directory.appendingPathComponent("particles.star").path, "--out", out])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.hasPrefix("duet: error: ") && result.stderr.contains("particle 1 has no pose"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/map.mrc"))
    }

    /// A CryoSPARC particle export keeps the micrograph's dark protein and says so with `blob/sign` −1: Duet reads
    /// such images in RELION's contrast, so the map equals the one from the same particles in RELION's contrast;
    /// the sign is written back, and a STAR input converted to `.cs` gets +1.
    func testCryosparcBlobSignIsHonouredAndWrittenBack() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let truth = try simulate(into: directory, count: 60, extra: ["--no-noise"])
        let cs = directory.appendingPathComponent("truth.cs").path
        XCTAssertEqual(try CommandRunner.duet(["convert", truth, cs]).status, 0)
        // The dark-protein export: negated images, blob/sign -1 (and a control that claims +1).
        let check = try CommandRunner.pythonOutput(["-c", """
            import mrcfile, numpy as np, sys
            d = sys.argv[1]
            a = np.load(d + '/truth.cs')
            assert set(a['blob/sign']) == {1.0}, a['blob/sign']
            with mrcfile.open(d + '/particles.mrcs') as m:
                data, voxel = m.data.copy(), m.voxel_size
            with mrcfile.new(d + '/dark.mrcs') as m:
                m.set_data(-data); m.voxel_size = voxel
            a['blob/path'] = 'dark.mrcs'
            a['blob/sign'] = -1
            with open(d + '/dark.cs', 'wb') as f: np.save(f, a)
            a['blob/sign'] = 1
            with open(d + '/wrong.cs', 'wb') as f: np.save(f, a)
            print('ok')
            """, directory.path], needs: "python3 with numpy and mrcfile")
        XCTAssertEqual(check.stdout, "ok\n", check.stderr)
        var maps = [String: [Float]]()
        for name in ["truth.star", "dark.cs", "wrong.cs"] {
            let out = directory.appendingPathComponent("rec-" + name).path
            let result = try CommandRunner.duet(["reconstruct", directory.appendingPathComponent(name).path, "--out", out])
            XCTAssertEqual(result.status, 0, result.stderr)
            maps[name] = try MRCFile.readVolume(path: out + "/map.mrc").data
        }
        func correlation(_ a: [Float], _ b: [Float]) -> Double {
            zip(a, b).map { Double($0 * $1) }.reduce(0, +)
                / (a.map { Double($0 * $0) }.reduce(0, +) * b.map { Double($0 * $0) }.reduce(0, +)).squareRoot()
        }
        XCTAssertGreaterThan(correlation(maps["truth.star"]!, maps["dark.cs"]!), 0.9999)
        XCTAssertLessThan(correlation(maps["truth.star"]!, maps["wrong.cs"]!), -0.9999)
        let back = directory.appendingPathComponent("back.cs").path
        XCTAssertEqual(try CommandRunner.duet(["convert", directory.appendingPathComponent("dark.cs").path, back]).status, 0)
        let written = try CommandRunner.pythonOutput(["-c", "import numpy as np, sys; print(sorted(set(np.load(sys.argv[1])['blob/sign'].tolist())))",
                                                      back], needs: "python3 with numpy")
        XCTAssertEqual(written.stdout, "[-1.0]\n", written.stderr)
    }

    /// `--symmetry C4`: every image goes in at its four equivalent rotations, so the map is invariant under RELION's
    /// C4 operators (checked with scipy, independently of Duet's resampling); without it, it is not.
    func testReconstructionWithSymmetryIsSymmetric() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let truth = try simulate(into: directory, count: 60, extra: ["--no-noise"])
        for symmetry in ["C4", "C1"] {
            let out = directory.appendingPathComponent("rec-" + symmetry).path
            let result = try CommandRunner.duet(["reconstruct", truth, "--out", out, "--symmetry", symmetry])
            XCTAssertEqual(result.status, 0, result.stderr)
            let check = try CommandRunner.pythonOutput([CommandRunner.oraclePath("c4_self_correlation.py"),
                                                        out + "/map.mrc"], needs: "python3 with numpy, scipy and mrcfile")
            let correlation = Double(check.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -2
            if symmetry == "C4" {
                XCTAssertGreaterThan(correlation, 0.99, check.stderr)
            } else {
                XCTAssertLessThan(correlation, 0.9, check.stderr)
            }
        }
        let bad = try CommandRunner.duet(["reconstruct", truth, "--out", directory.appendingPathComponent("bad").path,
                                          "--symmetry", "C0"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.hasPrefix("duet: error: --symmetry"), bad.stderr)
    }
}
