import DuetComm
import DuetCore
import DuetFormats
import DuetTestSupport
import XCTest
@testable import DuetEngine

/// `AbinitJob` and `RefineJob` on the in-process communicator (ranks as threads, issue #16), as `mpirun` runs them in
/// `ci/refine-checks.sh` but without MPI: 3 ranks (an uneven split: half A on two, half B on one) against 1. The SGD
/// map is bit-identical (exact sums); refine's half maps are direct reconstructions whose float sums over ranks
/// differ in the last bits.
final class JobRankTests: XCTestCase {
    private var directory: URL!
    private var particles: String { directory.appendingPathComponent("sim/particles.star").path }

    /// 24 particles of a 16³ blob map at 4 Å/px, SNR 1.
    override func setUpWithError() throws {
        directory = try CommandRunner.temporaryDirectory()
        let map = directory.appendingPathComponent("blobs.mrc").path
        try MRCWriter.writeVolume(nx: 16, ny: 16, nz: 16, data: TestVolumes.asymmetricBlobs(box: 16), pixelSize_A: 4,
                                  to: map)
        var simulation = Simulation.Configuration(mapPath: map, outputDirectory: directory.appendingPathComponent("sim").path)
        simulation.count = 24
        simulation.snr = 1
        simulation.seed = 3
        _ = try Simulation.run(simulation)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private var schedule: AbinitConfiguration {
        var c = AbinitConfiguration()
        c.initialIterations = 2
        c.finalIterations = 0
        c.initialMinibatch = 8
        c.threads = 1
        return c
    }

    private func read(_ path: String) throws -> [Float] { try MRCFile.readVolume(path: path).data }

    func testRefineGivesTheSameHalfMapsOnOneAndThreeRanks() throws {
        var maps: [[Float]] = []
        for size in [1, 3] {
            var c = RefineConfiguration(particlesPath: particles,
                                        outputDirectory: directory.appendingPathComponent("refine\(size)").path)
            c.sgd = schedule
            c.alignmentInterval = 1
            c.refinementRounds = 0
            let configuration = c
            let summaries = try LocalCommunicator.run(size: size) { world in
                try RefineJob.run(configuration, resume: false, world: world, progress: { _ in })
            }
            XCTAssertNotNil(summaries[0])
            XCTAssertTrue(summaries.dropFirst().allSatisfy { $0 == nil }, "only world rank 0 reports")
            maps.append(try read(c.outputDirectory + "/half_map_A.mrc") + read(c.outputDirectory + "/half_map_B.mrc"))
        }
        let peak = try XCTUnwrap(maps[0].map(abs).max())
        XCTAssertGreaterThan(peak, 0)
        let difference = try XCTUnwrap(zip(maps[1], maps[0]).map { abs($0 - $1) }.max())
        XCTAssertLessThan(difference, 1e-4 * peak, "3 ranks vs 1: largest voxel difference relative to the peak")
    }

    func testAbinitGivesTheSameMapOnOneAndThreeRanks() throws {
        var maps: [[Float]] = []
        for size in [1, 3] {
            let out = directory.appendingPathComponent("abinit\(size)").path, path = particles, c = schedule
            _ = try LocalCommunicator.run(size: size) { communicator in
                try AbinitJob.run(particlesPath: path, outputDirectory: out, pixelSize_A: nil, overwrite: false,
                                  configuration: c, communicator: communicator, progress: { _ in })
            }
            maps.append(try read(out + "/map.mrc"))
        }
        XCTAssertTrue(maps[0].contains { $0 != 0 })
        XCTAssertTrue(maps[1] == maps[0], "3 ranks vs 1: the SGD map must be bit-identical")
    }
}
