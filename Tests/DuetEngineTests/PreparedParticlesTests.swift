import DuetComm
import DuetCore
import DuetFormats
import DuetKernels
import DuetTestSupport
import XCTest
@testable import DuetEngine

/// Particle images are read on a background thread in the order the run will first use them (issue #14): every
/// slot once, the prioritised ones first, an unreadable image reported when it is waited for, and the prepared
/// images the same whatever the order; the engine's predicted order of use is the order its minibatches use them.
final class PreparedParticlesTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try CommandRunner.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// A simulated set of `count` particles of a 16³ blob map at 4 Å/px (SNR 1, with CTF).
    private func simulatedSet(count: Int) throws -> ParticleSet {
        let map = directory.appendingPathComponent("blobs.mrc").path
        try MRCWriter.writeVolume(nx: 16, ny: 16, nz: 16, data: TestVolumes.asymmetricBlobs(box: 16), pixelSize_A: 4,
                                  to: map)
        var simulation = SimulateJob.Configuration(source: .map(path: map),
                                                   outputDirectory: directory.appendingPathComponent("sim").path)
        simulation.count = count
        simulation.snr = 1
        simulation.seed = 3
        _ = try SimulateJob.run(simulation)
        return try ParticleFile.read(directory.appendingPathComponent("sim/particles.star").path)
    }

    func testLoaderLoadsEverySlotOnceInPriorityOrder() throws {
        let lock = NSLock()
        nonisolated(unsafe) var loaded = [Int]()
        let loader = ParticleLoader(count: 10) { slot in lock.withLock { loaded.append(slot) } }
        loader.prioritise([7, 3, 7, 9])
        try loader.wait(for: 0..<10)
        XCTAssertEqual(lock.withLock { loaded }, [7, 3, 9, 0, 1, 2, 4, 5, 6, 8])
    }

    func testLoaderReportsAFailedSlotWhenItIsWaitedForAndGoesOn() throws {
        let loader = ParticleLoader(count: 10) { slot in
            if slot == 4 { throw DuetError("slot 4 cannot be read") }
        }
        try loader.wait(for: [0, 1, 2])
        XCTAssertThrowsError(try loader.wait(for: [3, 4])) { error in
            XCTAssertEqual((error as? DuetError)?.message, "slot 4 cannot be read")
        }
        try loader.wait(for: 5..<10)
    }

    /// The images (spectra and CTFs) are bit-identical whatever order they were read in, and a shard's slot `i`
    /// holds the image of its particle `indices[i]`.
    func testImagesDoNotDependOnTheOrderTheyWereRead() throws {
        let set = try simulatedSet(count: 12)
        func prepared(_ indices: [Int], priority: [Int]?) throws -> PreparedParticles {
            let data = try PreparedParticles(set: set, indices: indices, box: 16, pixelSize_A: 4, backgroundRadius_px: 6)
            if let priority { data.prioritise(priority) }
            try data.waitForAll()
            return data
        }
        let all = try prepared(Array(0..<12), priority: nil)
        let reversed = try prepared(Array(0..<12), priority: Array((0..<12).reversed()))
        let shard = try prepared([1, 4, 7, 10], priority: [3, 1])
        let n = all.complexCount
        func spectrum(_ data: PreparedParticles, _ slot: Int) -> [SIMD2<Float>] {
            Array(UnsafeBufferPointer(start: data.images.spectra.baseAddress + slot * n, count: n))
        }
        func ctf(_ data: PreparedParticles, _ slot: Int) -> [Float] {
            Array(UnsafeBufferPointer(start: data.images.ctfs.baseAddress + slot * n, count: n))
        }
        for slot in 0..<12 {
            XCTAssertEqual(spectrum(all, slot), spectrum(reversed, slot), "slot \(slot)")
            XCTAssertEqual(ctf(all, slot), ctf(reversed, slot), "slot \(slot)")
        }
        for (slot, index) in [1, 4, 7, 10].enumerated() {
            XCTAssertEqual(spectrum(shard, slot), spectrum(all, index), "shard slot \(slot)")
            XCTAssertEqual(ctf(shard, slot), ctf(all, index), "shard slot \(slot)")
        }
        XCTAssertNotEqual(spectrum(all, 0), spectrum(all, 1))
    }

    /// The stacks are checked when the images are set up; a pixel that is not finite is reported when its image
    /// is waited for, and the others are still read.
    func testANonFinitePixelIsReportedWhenItsImageIsWaitedFor() throws {
        let box = 16
        var images = [Float](repeating: 0.5, count: 4 * box * box)
        images[2 * box * box + 37] = .nan
        let stack = directory.appendingPathComponent("bad.mrcs").path
        try MRCWriter.writeImageStack(nx: box, ny: box, images: images, pixelSize_A: 4, to: stack)
        let star = directory.appendingPathComponent("bad.star").path
        try ("data_particles\nloop_\n_rlnImageName\n" + (1...4).map { "\($0)@bad.mrcs\n" }.joined())
            .write(toFile: star, atomically: true, encoding: .utf8)
        let set = try ParticleFile.read(star, pixelSize_A: 4)
        let data = try PreparedParticles(set: set, indices: [0, 1, 2, 3], box: box, pixelSize_A: 4, backgroundRadius_px: 6)
        try data.wait(for: [0, 1, 3])
        XCTAssertThrowsError(try data.waitForAll()) { error in
            XCTAssertTrue("\(error)".contains("3@\(stack): pixel 37 is nan"), "\(error)")
        }
    }

    /// The order the engine predicts is the order it first uses the slots in: the noise-scale tuning's sample (the
    /// set's first initial minibatch) when the scale is tuned, then its minibatches; after each iteration, the
    /// slots used so far are the predicted order's first ones.
    func testTheEnginePredictsTheOrderItsMinibatchesUseTheImages() throws {
        let set = try simulatedSet(count: 40)
        for tuned in [false, true] {
            let configuration = {
                var c = AbinitConfiguration()
                c.initialIterations = 6
                c.finalIterations = 0
                c.initialMinibatch = 6
                c.noiseInitialSigmaScale = tuned ? nil : 3
                c.threads = 1
                return c
            }()
            let results = try LocalCommunicator.run(size: 2) { communicator in
                let shard = ParticleShard(particleCount: 40, rank: communicator.rank, size: communicator.size)
                let data = try PreparedParticles(set: set, indices: shard.indices, box: 16, pixelSize_A: 4,
                                                 backgroundRadius_px: 6)
                let engine = try AbinitEngine(configuration: configuration, data: data, shard: shard, stream: 1,
                                              communicator: communicator)
                let predicted = engine.slotsInOrderOfUse()
                var seen = Set(tuned ? (0..<6).filter(shard.owns).map(shard.slot(of:)) : []), failures = [String]()
                for t in 0..<configuration.iterations {
                    _ = try engine.iterate()
                    seen.formUnion(engine.assignments.indices.filter { engine.assignments[$0].lastIteration == t })
                    if Set(predicted.prefix(seen.count)) != seen {
                        failures.append("rank \(communicator.rank), iteration \(t): used \(seen.sorted()), predicted \(predicted)")
                    }
                }
                return (failures, seen.count)
            }
            for (failures, seenCount) in results {
                XCTAssertEqual(failures, [], "tuned \(tuned)")
                XCTAssertGreaterThan(seenCount, 6, "tuned \(tuned)")
            }
        }
    }
}
