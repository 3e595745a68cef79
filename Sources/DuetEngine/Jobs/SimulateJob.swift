import DuetCore
import DuetFormats
import DuetKernels
import Foundation

/// `duet simulate`: a particle stack with known truth from a map or an atomic model's potential. Poses are uniform
/// on SO(3) with uniform shifts, or taken (with their CTF) from an existing STAR/`.cs` file. Noise is white Gaussian
/// with SNR = mean over images of the clean image's variance (whole box) / noise variance, and images are then
/// scaled so the noise σ is 1 (as the benchmark kit's generator does). Writes `particles.mrcs`, `particles.star`
/// (CTF, no poses: what a user starts from) and `truth.star` (the same with true poses, shifts and a random half-set
/// split). Seeded: the same configuration gives the same files for any thread count.
public enum SimulateJob {
    /// What is projected.
    public enum Source: Sendable, Equatable {
        /// A cubic map (MRC).
        case map(path: String)
        /// An atomic model (PDB or mmCIF) whose potential (`AtomicPotential`, on a `box`³ grid at the configuration's
        /// `pixelSize_A`, required then) is projected; the potential is written as `model_map.mrc`.
        case model(path: String, box: Int)

        /// The input file.
        public var path: String {
            switch self {
            case .map(let path), .model(let path, _): return path
            }
        }
    }

    public struct Configuration: Sendable {
        public var source: Source
        public var outputDirectory: String
        /// Number of particles with random poses; with `posesFrom`, at most this many of its particles (nil: all).
        public var count: Int?
        public var posesFrom: String?
        /// Signal-to-noise ratio; nil for noiseless images.
        public var snr: Double?
        public var seed: UInt64 = 1
        /// Overrides the map header's pixel size.
        public var pixelSize_A: Double?
        public var applyCTF = true
        public var defocusMin_A = 10_000.0
        public var defocusMax_A = 25_000.0
        /// Largest |defocusU − defocusV|.
        public var astigmatismMax_A = 600.0
        public var voltage_kV = 300.0
        public var sphericalAberration_mm = 2.7
        public var amplitudeContrast = 0.1
        /// Shifts are uniform in ±this many pixels on each axis.
        public var maxShift_px = 3.0
        /// Write into an output directory that holds another run's outputs (never over an input).
        public var overwrite = false

        public init(source: Source, outputDirectory: String) {
            self.source = source
            self.outputDirectory = outputDirectory
        }

        /// Throws a one-line error naming the first option out of its range.
        public func validate() throws {
            if let count { guard count >= 1 else { throw DuetError("--count must be at least 1") } }
            if let snr, !(snr > 0 && snr.isFinite) {
                throw DuetError("--snr must be a positive number, not \(snr) (--no-noise gives noiseless images)")
            }
            try ParticleSet.validatePixelSizeOption(pixelSize_A)
            if case .model(_, let box) = source {
                guard pixelSize_A != nil else { throw DuetError("--model needs --pixel-size (Å)") }
                guard box >= 16, box % 2 == 0 else { throw DuetError("--model needs --box, an even number of pixels ≥ 16") }
            }
            guard maxShift_px.isFinite && maxShift_px >= 0 else { throw DuetError("--max-shift must be ≥ 0 pixels") }
            guard defocusMin_A.isFinite && defocusMin_A >= 0 else { throw DuetError("--defocus-min must be ≥ 0 Å") }
            guard defocusMax_A.isFinite && defocusMax_A >= defocusMin_A else {
                throw DuetError("--defocus-max must be a finite number ≥ --defocus-min (\(defocusMin_A) Å)")
            }
        }
    }

    /// Runs the simulation; returns a one-line summary.
    public static func run(_ configuration: Configuration) throws -> String {
        try configuration.validate()
        let map: MRCVolume
        switch configuration.source {
        case .map(let path): map = try MRCVolume.readFinite(path: path)
        case .model(let path, let box): map = try modelMap(path, box: box, pixelSize_A: configuration.pixelSize_A!)
        }
        guard map.nx == map.ny && map.ny == map.nz else {
            throw DuetError("\(configuration.source.path) is \(map.nx)×\(map.ny)×\(map.nz): simulate needs a cubic map")
        }
        guard let pixelSize_A = configuration.pixelSize_A ?? map.pixelSize_A.map(Double.init) else {
            throw DuetError("\(configuration.source.path) has no pixel size in its header: pass --pixel-size")
        }
        try OutputDirectory.check(configuration.outputDirectory,
                                  inputs: [configuration.source.path]
                                      + (configuration.posesFrom.map { [$0] } ?? []),
                                  overwrite: configuration.overwrite)
        let box = map.nx
        if let count = configuration.count {
            // The stack is formed in memory: refuse what cannot fit rather than abort half way.
            let stackBytes = Double(count) * Double(box * box) * Double(MemoryLayout<Float>.size)
            let memoryBytes = Double(ProcessInfo.processInfo.physicalMemory)
            guard stackBytes <= memoryBytes / 2 else {
                throw DuetError("--count \(count) of \(box)² images needs "
                                + String(format: "%.1f GB in memory (this machine has %.1f GB)", stackBytes / 1e9, memoryBytes / 1e9)
                                + ": simulate fewer particles per run")
            }
        }
        var particles = try truthParticles(configuration, box: box, pixelSize_A: pixelSize_A)
        guard !particles.isEmpty else { throw DuetError("nothing to simulate: 0 particles") }

        let formation = ImageFormation(map: map.data, box: box, pixelSize_A: pixelSize_A)
        let pixels = box * box
        var images = [Float](repeating: 0, count: particles.count * pixels)
        let particlesToForm = particles
        let failure = FirstError()
        images.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let base = buffer.baseAddress!
            ParallelFor.run(count: particlesToForm.count) { range in
                let scratch = ImageFormation.Scratch(box: box)
                for i in range {
                    let particle = particlesToForm[i]
                    do {
                        try formation.form(pose: particle.pose!, ctf: configuration.applyCTF ? particle.ctf : nil,
                                           scratch: scratch, into: base + i * pixels)
                    } catch {
                        failure.record(error)
                    }
                }
            }
        }
        try failure.rethrow()

        var noiseDescription = "no noise"
        if let snr = configuration.snr {
            let sigma = addNoise(&images, count: particles.count, pixels: pixels, snr: snr, seed: configuration.seed)
            noiseDescription = String(format: "SNR %g (noise σ %.4g before scaling to 1)", snr, sigma)
        }

        let directory = configuration.outputDirectory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try MRCWriter.writeImageStack(nx: box, ny: box, images: images, pixelSize_A: Float(pixelSize_A),
                                      to: directory + "/particles.mrcs")
        let fromModel = if case .model = configuration.source { true } else { false }
        if fromModel {
            try MRCWriter.writeVolume(nx: box, ny: box, nz: box, data: map.data, pixelSize_A: Float(pixelSize_A),
                                      to: directory + "/model_map.mrc")
        }
        for i in particles.indices {
            particles[i].image = ImageLocation(index: i, path: "particles.mrcs")
            particles[i].pixelSize_A = pixelSize_A
            particles[i].boxSize = box
            particles[i].opticsGroup = 1
            if !configuration.applyCTF { particles[i].ctf = nil }
        }
        let truth = ParticleSet(particles: particles, opticsGroups: [], baseDirectory: directory, source: .generated)
        try ParticleFile.write(truth, to: directory + "/truth.star")
        var input = truth
        for i in input.particles.indices {
            input.particles[i].pose = nil
            input.particles[i].halfSet = nil
        }
        try ParticleFile.write(input, to: directory + "/particles.star")
        return "simulated \(particles.count) particles, box \(box), \(String(format: "%g", pixelSize_A)) Å/px, "
            + "\(noiseDescription): \(directory)/particles.star, particles.mrcs, truth.star"
            + (fromModel ? ", model_map.mrc" : "")
    }

    /// The potential of the atomic model at `path` (volts, band-limited at Nyquist) on a `box`³ grid.
    private static func modelMap(_ path: String, box: Int, pixelSize_A: Double) throws -> MRCVolume {
        let model = try AtomicModel.read(path)
        let data = try AtomicPotential.map(elements: model.atoms.map(\.element), positions_A: model.atoms.map(\.position_A),
                                           bFactors_A2: model.atoms.map(\.bFactor_A2),
                                           occupancies: model.atoms.map(\.occupancy), box: box, pixelSize_A: pixelSize_A)
        return MRCVolume(nx: box, ny: box, nz: box, pixelSize_A: Float(pixelSize_A), data: data)
    }

    /// The particles to simulate: from `posesFrom`, or random poses, shifts, CTF and halves from the seed.
    static func truthParticles(_ c: Configuration, box: Int, pixelSize_A: Double) throws -> [Particle] {
        var generator = SeededGenerator(seed: c.seed, stream: 0)
        let maxShift_A = c.maxShift_px * pixelSize_A
        func randomCTF() -> CTFParameters {
            let defocus = c.defocusMin_A + (c.defocusMax_A - c.defocusMin_A) * generator.nextUnit()
            let astigmatism = c.astigmatismMax_A * generator.nextUnit()
            return CTFParameters(defocusU_A: defocus + astigmatism / 2, defocusV_A: defocus - astigmatism / 2,
                                 defocusAngle_deg: 360 * generator.nextUnit() - 180, voltage_kV: c.voltage_kV,
                                 sphericalAberration_mm: c.sphericalAberration_mm, amplitudeContrast: c.amplitudeContrast)
        }
        let location = ImageLocation(index: 0, path: "particles.mrcs")
        if let posesFrom = c.posesFrom {
            var source = try ParticleFile.read(posesFrom).particles
            if let count = c.count { source = Array(source.prefix(count)) }
            return try source.enumerated().map { i, particle in
                guard let pose = particle.pose else { throw DuetError("\(posesFrom): particle \(i + 1) has no pose") }
                let half = particle.halfSet ?? (generator.nextUnit() < 0.5 ? .a : .b)
                return Particle(image: location, pixelSize_A: pixelSize_A, ctf: particle.ctf ?? randomCTF(),
                                pose: pose, halfSet: half)
            }
        }
        guard let count = c.count, count > 0 else { throw DuetError("give --count N (random poses) or --poses-from FILE") }
        return (0..<count).map { _ in
            let q = SIMD4((0..<4).map { _ in generator.nextGaussian() })
            let rotation = Rotation(unitQuaternion: q / (q * q).sum().squareRoot())
            let shiftX_A = maxShift_A * (2 * generator.nextUnit() - 1)
            let shiftY_A = maxShift_A * (2 * generator.nextUnit() - 1)
            let ctf = randomCTF()
            return Particle(image: location, pixelSize_A: pixelSize_A, ctf: ctf,
                            pose: Pose(rotation: rotation, shiftX_A: shiftX_A, shiftY_A: shiftY_A),
                            halfSet: generator.nextUnit() < 0.5 ? .a : .b)
        }
    }

    /// Adds white Gaussian noise for `snr` (whole-box variance definition) from per-image streams of `seed`, then
    /// divides by σ. Returns σ.
    static func addNoise(_ images: inout [Float], count: Int, pixels: Int, snr: Double, seed: UInt64) -> Double {
        var variance = 0.0
        for i in 0..<count {
            var sum = 0.0, sum2 = 0.0
            for p in 0..<pixels {
                let v = Double(images[i * pixels + p])
                sum += v
                sum2 += v * v
            }
            let mean = sum / Double(pixels)
            variance += sum2 / Double(pixels) - mean * mean
        }
        let sigma = (variance / Double(count) / snr).squareRoot()
        images.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let base = buffer.baseAddress!
            ParallelFor.run(count: count) { range in
                for i in range {
                    var generator = SeededGenerator(seed: seed, stream: UInt64(i) + 1)
                    let image = base + i * pixels
                    for p in 0..<pixels {
                        image[p] = Float((Double(image[p]) + sigma * generator.nextGaussian()) / sigma)
                    }
                }
            }
        }
        return sigma
    }
}

/// Keeps the first error thrown by any worker thread.
final class FirstError: @unchecked Sendable {
    private let lock = NSLock()
    private var error: Error?

    func record(_ error: Error) {
        lock.lock()
        if self.error == nil { self.error = error }
        lock.unlock()
    }

    func rethrow() throws {
        lock.lock()
        defer { lock.unlock() }
        if let error { throw error }
    }
}
