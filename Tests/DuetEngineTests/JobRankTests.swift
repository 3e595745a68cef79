import DuetComm
import DuetCore
import DuetFormats
import DuetTestSupport
import XCTest
@testable import DuetEngine

/// `AbinitJob` and `RefineJob` on the in-process communicator (ranks as threads, issue #16), as `mpirun` runs them in
/// `ci/refine-checks.sh` but without MPI: 2 ranks (one per half) and 3 (an uneven split: half A on two, half B on
/// one) against 1. The SGD
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
        var simulation = SimulateJob.Configuration(source: .map(path: map),
                                                   outputDirectory: directory.appendingPathComponent("sim").path)
        simulation.count = 24
        simulation.snr = 1
        simulation.seed = 3
        _ = try SimulateJob.run(simulation)
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

    func testRefineGivesTheSameHalfMapsOnOneTwoAndThreeRanks() throws {
        var maps: [[Float]] = []
        for size in [1, 2, 3] {
            var settings = RefineConfiguration(particlesPath: particles,
                                               outputDirectory: directory.appendingPathComponent("refine\(size)").path)
            settings.sgd = schedule
            settings.alignmentInterval = 1
            settings.refinementRounds = 0
            let configuration = RefineJob.Configuration(settings: settings)
            let summaries = try LocalCommunicator.run(size: size) { world in
                try RefineJob.run(configuration, world: world)
            }
            XCTAssertNotNil(summaries[0])
            XCTAssertTrue(summaries.dropFirst().allSatisfy { $0 == nil }, "only world rank 0 reports")
            maps.append(try read(settings.outputDirectory + "/half_map_A.mrc")
                        + read(settings.outputDirectory + "/half_map_B.mrc"))
        }
        let peak = try XCTUnwrap(maps[0].map(abs).max())
        XCTAssertGreaterThan(peak, 0)
        for (size, map) in zip([2, 3], maps.dropFirst()) {
            let difference = try XCTUnwrap(zip(map, maps[0]).map { abs($0 - $1) }.max())
            XCTAssertLessThan(difference, 1e-4 * peak, "\(size) ranks vs 1: largest voxel difference relative to the peak")
        }
    }

    /// A run copied to another directory resumes there from its checkpoint, bit-identically to the uninterrupted
    /// run, and leaves the directory it came from untouched.
    func testACopiedRunResumesInItsNewDirectory() throws {
        let original = directory.appendingPathComponent("original").path
        var settings = RefineConfiguration(particlesPath: particles, outputDirectory: original)
        settings.sgd = schedule
        settings.checkpointInterval = 1   // a checkpoint after iteration 1 of 2
        settings.refinementRounds = 0
        let first = RefineJob.Configuration(settings: settings)
        _ = try LocalCommunicator.run(size: 2) { world in try RefineJob.run(first, world: world) }
        let copy = directory.appendingPathComponent("copy").path
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: original + "/checkpoint", toPath: copy + "/checkpoint")
        let before = try FileManager.default.contentsOfDirectory(atPath: original).sorted()
        let modified = try FileManager.default.attributesOfItem(atPath: original + "/half_map_A.mrc")[.modificationDate] as? Date

        var resume = RefineJob.Configuration(settings: RefineConfiguration(particlesPath: "", outputDirectory: copy))
        resume.resume = true
        let resumed = resume
        _ = try LocalCommunicator.run(size: 2) { world in try RefineJob.run(resumed, world: world) }
        for name in ["half_map_A.mrc", "half_map_B.mrc"] {
            XCTAssertEqual(try read(copy + "/" + name), try read(original + "/" + name), "\(name): resumed vs uninterrupted")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: original).sorted(), before)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: original + "/half_map_A.mrc")[.modificationDate] as? Date,
                       modified, "the original directory is not written to")
    }

    func testAbinitGivesTheSameMapOnOneTwoAndThreeRanks() throws {
        var maps: [[Float]] = []
        for size in [1, 2, 3] {
            var configuration = AbinitJob.Configuration(particlesPath: particles,
                                                        outputDirectory: directory.appendingPathComponent("abinit\(size)").path)
            configuration.sgd = schedule
            let c = configuration
            _ = try LocalCommunicator.run(size: size) { world in try AbinitJob.run(c, world: world) }
            maps.append(try read(configuration.outputDirectory + "/map.mrc"))
        }
        XCTAssertTrue(maps[0].contains { $0 != 0 })
        XCTAssertTrue(maps[1] == maps[0], "2 ranks vs 1: the SGD map must be bit-identical")
        XCTAssertTrue(maps[2] == maps[0], "3 ranks vs 1: the SGD map must be bit-identical")
    }

    /// Threads divide the search, the back-projection and the update without changing a bit of the map.
    func testAbinitGivesTheSameMapOnOneAndThreeThreads() throws {
        var maps: [[Float]] = []
        for threads in [1, 3] {
            var configuration = AbinitJob.Configuration(particlesPath: particles,
                                                        outputDirectory: directory.appendingPathComponent("threads\(threads)").path)
            configuration.sgd = schedule
            configuration.sgd.threads = threads
            let c = configuration
            _ = try LocalCommunicator.run(size: 1) { world in try AbinitJob.run(c, world: world) }
            maps.append(try read(configuration.outputDirectory + "/map.mrc"))
        }
        XCTAssertTrue(maps[0].contains { $0 != 0 })
        XCTAssertTrue(maps[1] == maps[0], "3 threads vs 1: the SGD map must be bit-identical")
    }

    /// The coloured (2-D) noise model sums its per-coefficient residuals in fixed point: the same map on any rank count.
    func testAbinitWithTheColouredNoiseModelGivesTheSameMapOnOneAndThreeRanks() throws {
        var maps: [[Float]] = []
        for size in [1, 3] {
            var configuration = AbinitJob.Configuration(particlesPath: particles,
                                                        outputDirectory: directory.appendingPathComponent("coloured\(size)").path)
            configuration.sgd = schedule
            configuration.sgd.noiseModel = .coloured
            let c = configuration
            _ = try LocalCommunicator.run(size: size) { world in try AbinitJob.run(c, world: world) }
            maps.append(try read(configuration.outputDirectory + "/map.mrc"))
        }
        XCTAssertTrue(maps[0].contains { $0 != 0 })
        XCTAssertTrue(maps[1] == maps[0], "3 ranks vs 1: the SGD map must be bit-identical")
    }

    func testHalfSetPlanGivesEachHalfItsOwnRanks() throws {
        XCTAssertEqual(HalfSetPlan(worldSize: 1).halves(ofWorldRank: 0), [.a, .b], "one rank serves both halves")
        for size in 2...9 {
            let plan = HalfSetPlan(worldSize: size)
            let a = plan.worldRanks(of: .a), b = plan.worldRanks(of: .b)
            XCTAssertEqual(a.lowerBound, 0, "world rank 0 is half A's rank 0")
            XCTAssertEqual(a.upperBound, b.lowerBound)
            XCTAssertEqual(b.upperBound, size)
            XCTAssertEqual(a.count - b.count, size % 2, "halves as even as the world allows, A the larger")
            XCTAssertEqual(plan.halfBRoot, b.lowerBound)
            for rank in 0..<size { XCTAssertEqual(plan.halves(ofWorldRank: rank), [rank < a.upperBound ? .a : .b]) }
        }
    }

    func testHalfSetRanksSplitTheWorldAsPlanned() throws {
        for size in 1...4 {
            let plan = HalfSetPlan(worldSize: size)
            let places = try LocalCommunicator.run(size: size) { world in
                let ranks = try HalfSetRanks.split(world)
                return (ranks.halves, ranks.communicator.rank, ranks.communicator.size, ranks.halfBRoot)
            }
            for (worldRank, place) in places.enumerated() {
                let halves = plan.halves(ofWorldRank: worldRank)
                XCTAssertEqual(place.0, halves)
                let ranks = plan.worldRanks(of: halves[0])
                XCTAssertEqual(place.1, worldRank - ranks.lowerBound, "\(size) ranks: rank within the half")
                XCTAssertEqual(place.2, halves.count == 2 ? size : ranks.count, "\(size) ranks: size of the half")
                XCTAssertEqual(place.3, plan.halfBRoot)
            }
        }
    }
}
