import DuetCore
import DuetFormats
import DuetKernels
import DuetTestSupport
import Foundation
import XCTest

/// `duet simulate` against RELION's own projector: noiseless images with random poses, shifts and CTF agree with
/// `relion_project --ctf` run on Duet's truth STAR; noise follows the SNR definition; the seed fixes the output.
final class SimulateTests: XCTestCase {
    private let map = CommandRunner.fixtures.appendingPathComponent("cryojax/3j9g_potential_ps4_4.mrc").path

    func testNoiselessImagesMatchRelionProjectWithCTF() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let simulated = try CommandRunner.duet(["simulate", map, "--out", directory.path, "--count", "12", "--no-noise",
                                                "--seed", "7", "--max-shift", "2.5"])
        XCTAssertEqual(simulated.status, 0, simulated.stderr)
        let relion = try CommandRunner.run("/usr/bin/env", ["relion_project", "--i", map, "--ang", "truth.star", "--ctf",
                                                            "--angpix", "4.4", "--o", "relion"], in: directory)
        XCTAssertEqual(relion.status, 0, "relion_project (Debian package relion) failed: \(relion.stderr)")
        let ours = try MRCFile(path: directory.appendingPathComponent("particles.mrcs").path)
        let theirs = try MRCFile(path: directory.appendingPathComponent("relion.mrcs").path)
        XCTAssertEqual(ours.imageCount, 12)
        XCTAssertEqual(theirs.imageCount, 12)
        let truth = try ParticleFile.read(directory.appendingPathComponent("truth.star").path).particles
        XCTAssertTrue(truth.contains { abs($0.pose!.shiftX_A) > 4.4 }, "shifts of more than a pixel are exercised")
        XCTAssertEqual(Set(truth.map { $0.ctf!.defocusU_A }).count, 12, "every particle has its own CTF")
        for i in 0..<12 {
            let a = try ours.readSection(index: i), b = try theirs.readSection(index: i)
            XCTAssertGreaterThan(TestMetrics.ncc(a, b), 0.99, "image \(i)")
        }
    }

    /// The other direction: RELION reconstructs Duet's particles back to the map they were made from.
    func testRelionReconstructsDuetParticlesToTheTruth() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let simulated = try CommandRunner.duet(["simulate", map, "--out", directory.path, "--count", "400", "--no-noise",
                                                "--seed", "5", "--max-shift", "2"])
        XCTAssertEqual(simulated.status, 0, simulated.stderr)
        let relion = try CommandRunner.run("/usr/bin/env", ["relion_reconstruct", "--i", "truth.star", "--ctf",
                                                            "--o", "relion.mrc"], in: directory)
        XCTAssertEqual(relion.status, 0, "relion_reconstruct (Debian package relion) failed: \(relion.stderr)")
        let truth = try MRCFile.readVolume(path: map)
        let reconstruction = try MRCFile.readVolume(path: directory.appendingPathComponent("relion.mrc").path)
        let curve = FourierShellCorrelation.curve(reconstruction.data, truth.data, box: 64, pixelSize_A: 4.4)
        XCTAssertGreaterThan(curve.values[16], 0.9, "RELION's map of Duet's particles vs the truth: \(curve.values)")
    }

    func testNoiseFollowsSNRAndSeedFixesOutput() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let clean = directory.appendingPathComponent("clean").path
        let noisy = directory.appendingPathComponent("noisy").path, again = directory.appendingPathComponent("again").path
        for (out, extra) in [(clean, ["--no-noise"]), (noisy, ["--snr", "0.5"]), (again, ["--snr", "0.5"])] {
            let result = try CommandRunner.duet(["simulate", map, "--out", out, "--count", "40", "--seed", "3"] + extra)
            XCTAssertEqual(result.status, 0, result.stderr)
        }
        let cleanImages = try MRCFile(path: clean + "/particles.mrcs").readImages(range: 0..<40)
        let noisyImages = try MRCFile(path: noisy + "/particles.mrcs").readImages(range: 0..<40)
        XCTAssertTrue(noisyImages == (try MRCFile(path: again + "/particles.mrcs").readImages(range: 0..<40)),
                      "the same seed gives the same images")
        // Images are scaled so the noise σ is 1: noisy = clean/σ + n with var(n) = 1 and mean var(clean/σ) = SNR.
        let pixels = 64 * 64
        var signalVariance = 0.0
        for i in 0..<40 {
            let image = cleanImages[(i * pixels)..<((i + 1) * pixels)].map(Double.init)
            let mean = image.reduce(0, +) / Double(pixels)
            signalVariance += image.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(pixels)
        }
        let sigma = (signalVariance / 40 / 0.5).squareRoot()
        let residual = zip(noisyImages, cleanImages).map { Double($0) - Double($1) / sigma }
        let residualVariance = residual.map { $0 * $0 }.reduce(0, +) / Double(residual.count)
        XCTAssertEqual(residualVariance, 1, accuracy: 0.02)
    }

    func testPosesAndCTFFromAnExistingFile() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = CommandRunner.fixtures.appendingPathComponent("cryodrgn/metadata/relion31.6opticsgroups.star").path
        let result = try CommandRunner.duet(["simulate", map, "--out", directory.path, "--poses-from", source,
                                             "--count", "20", "--no-noise"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let original = try ParticleFile.read(source).particles
        let truth = try ParticleFile.read(directory.appendingPathComponent("truth.star").path).particles
        XCTAssertEqual(truth.count, 20)
        for (a, b) in zip(original, truth) {
            XCTAssertLessThan(a.pose!.rotation.angularDistance_rad(to: b.pose!.rotation), 1e-9)
            XCTAssertEqual(a.ctf!.defocusU_A, b.ctf!.defocusU_A, accuracy: 1e-6)
            XCTAssertEqual(a.halfSet, b.halfSet)
            XCTAssertEqual(b.pixelSize_A, 4.4)
        }
        let input = try ParticleFile.read(directory.appendingPathComponent("particles.star").path).particles
        XCTAssertTrue(input.allSatisfy { $0.pose == nil && $0.halfSet == nil && $0.ctf != nil })
    }

    func testBadInputFailsWithOneLine() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let noPoses = CommandRunner.fixtures.appendingPathComponent("cryodrgn/real/empiar_10076_7.star").path
        let cases: [([String], String)] = [
            (["simulate", map, "--out", directory.path], "give --count N"),
            (["simulate", map, "--out", directory.path, "--poses-from", noPoses], "particle 1 has no pose"),
            (["simulate", map, "--out", directory.path, "--count", "3", "--snr", "0"], "--snr must be a positive number"),
            (["simulate", directory.path + "/none.mrc", "--out", directory.path, "--count", "3"], "none.mrc"),
        ]
        for (arguments, expected) in cases {
            let result = try CommandRunner.duet(arguments)
            XCTAssertNotEqual(result.status, 0, "\(arguments)")
            XCTAssertTrue(result.stderr.hasPrefix("duet: error: ") && result.stderr.contains(expected), result.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.path + "/particles.mrcs"))
    }
}
