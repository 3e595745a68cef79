import DuetComm
import DuetCore
import DuetFormats
import DuetKernels
import Foundation

/// `duet abinit PARTICLES --out DIR`: ab-initio reconstruction of one particle set, on every rank of the world
/// (each reads and processes its shard). Rank 0 writes `map.mrc` (the SGD volume),
/// `particles.star` and `particles.cs` (the particles that were seen, with their most probable poses),
/// `unused.star` (particles never drawn into a minibatch) and `log.txt` (one line every 10 iterations).
public enum AbinitJob {
    public struct Configuration: Sendable {
        public var particlesPath: String
        public var outputDirectory: String
        /// Overrides the particle file's pixel size.
        public var pixelSize_A: Double?
        /// Write into an output directory that holds another run's outputs (never over an input).
        public var overwrite = false
        /// The stochastic gradient descent's settings.
        public var sgd = AbinitConfiguration()

        public init(particlesPath: String, outputDirectory: String) {
            self.particlesPath = particlesPath
            self.outputDirectory = outputDirectory
        }
    }

    /// Runs the reconstruction (collective over `world`); returns the summary line on rank 0, nil on the others.
    /// `progress` receives notes and a line every 10 iterations on rank 0.
    public static func run(_ c: Configuration, world communicator: Communicator,
                           progress: @escaping (String) -> Void = { _ in }) throws -> String? {
        let particlesPath = c.particlesPath, outputDirectory = c.outputDirectory, configuration = c.sgd
        // Every check and read that can fail on bad input, agreed over the ranks: one error line, clean exit.
        let (job, shard, data) = try communicator.agreeing {
            try configuration.validate()
            let job = try JobInput.read(particlesPath, pixelSizeOption: c.pixelSize_A,
                                        particleLimit: configuration.particleLimit, requirePoses: false,
                                        outputDirectory: outputDirectory, overwrite: c.overwrite)
            try configuration.validate(pixelSize_A: job.pixelSize_A)
            guard job.particles.particles.count >= 2 else {
                throw DuetError("\(particlesPath): \(job.particles.particles.count) particle; at least 2 are needed")
            }
            let shard = ParticleShard(particleCount: job.particles.particles.count, rank: communicator.rank,
                                      size: communicator.size)
            let diameter_px = configuration.particleDiameter_px(box: job.box, pixelSize_A: job.pixelSize_A)
            let data = try PreparedParticles(set: job.particles, indices: shard.indices, box: job.box,
                                             pixelSize_A: job.pixelSize_A, backgroundRadius_px: diameter_px / 2)
            return (job, shard, data)
        }
        let box = job.box, pixel_A = job.pixelSize_A
        if communicator.isRoot, let note = job.particles.noteWithoutCTF { progress(note) }
        // The engine's collective calls count as communication in its stage times.
        let times = StageTimes()
        let engine = try AbinitEngine(configuration: configuration, data: data, shard: shard, stream: 0xAB1,
                                      communicator: TimedCommunicator(communicator, times: times), times: times)
        if communicator.isRoot {
            progress(String(format: "noise initial sigma-scale %.2f", engine.initialSigmaScale)
                     + (configuration.noiseInitialSigmaScale == nil ? ", tuned to ESS fraction \(configuration.targetESSFraction)" : ""))
        }
        var log = IterationLog(total: configuration.iterations)
        while engine.iteration < configuration.iterations {
            let summary = try engine.iterate()
            if communicator.isRoot, let line = log.record(summary, stageSeconds: engine.times.seconds) { progress(line) }
        }
        if communicator.isRoot { progress(data.reading.note) }
        let assignments = try engine.gatherAssignments()
        let map = engine.map()
        // Created when there is something to write, so that bad input (an image that cannot be read is found when
        // it is first used) leaves no directory behind.
        try OutputDirectory.create(outputDirectory, on: communicator)
        guard communicator.isRoot, let assignments else { return nil }

        try MRCWriter.writeVolume(nx: box, ny: box, nz: box, data: map, pixelSize_A: Float(pixel_A),
                                  to: outputDirectory + "/map.mrc")
        let (used, unused) = try job.file.splitByAssignment(assignments, scoring: assignments.qualityScoring)
        try ParticleFile.write(used, to: outputDirectory + "/particles.star")
        try ParticleFile.write(used, to: outputDirectory + "/particles.cs")
        try ParticleFile.write(unused, to: outputDirectory + "/unused.star")
        try AtomicFile.write(log.lines.joined(separator: "\n") + "\n", to: outputDirectory + "/log.txt")
        return "ab-initio map of \(used.particles.count) particles (\(unused.particles.count) unused) in \(outputDirectory)/"
    }
}

extension ParticleSet {
    /// The particles posed by `assignments` (with the pose and its statistics, scored by `scoring`) and the others:
    /// never seen, or past the end of `assignments` (beyond `--particle-limit`). Both keep their input rows'
    /// columns; the unused keep a half-set only when all of them have one.
    func splitByAssignment(_ assignments: [ParticleAssignment],
                           scoring: QualityScoring) throws -> (used: ParticleSet, unused: ParticleSet) {
        let isUsed = particles.indices.map { $0 < assignments.count && assignments[$0].pose != nil }
        let usedRows = particles.indices.filter { isUsed[$0] }
        var used = try selecting(rows: usedRows)
        for (i, r) in usedRows.enumerated() {
            used.particles[i].pose = assignments[r].pose
            used.particles[i].poseStatistics = assignments[r].statistics(scoredBy: scoring)
        }
        var unused = try selecting(rows: particles.indices.filter { !isUsed[$0] })
        if unused.particles.contains(where: { $0.halfSet == nil }) {
            for i in unused.particles.indices { unused.particles[i].halfSet = nil }
        }
        return (used, unused)
    }
}

/// The per-iteration log: a line every 10 iterations and at the first and last, with elapsed time, ETA and this
/// rank's mean wall time per iteration in each stage since the previous line.
struct IterationLog {
    let total: Int
    let start = Date()
    private(set) var lines = [String]()
    private var previousIteration = -1
    private var previousSeconds = [Double](repeating: 0, count: StageTimes.Stage.allCases.count)

    init(total: Int) { self.total = total }

    /// Records an iteration, with the stage seconds of the whole run so far; returns its line when it is one to
    /// show.
    mutating func record(_ s: IterationSummary, stageSeconds: [Double]) -> String? {
        guard s.iteration % 10 == 0 || s.iteration == total - 1 else { return nil }
        let elapsed = Date().timeIntervalSince(start)
        let eta = elapsed / Double(s.iteration + 1) * Double(total - s.iteration - 1)
        let count = Double(s.iteration - previousIteration)
        let meanSeconds = zip(stageSeconds, previousSeconds).map { ($0 - $1) / count }
        previousIteration = s.iteration
        previousSeconds = stageSeconds
        let line = String(format: "iteration %4d/%d  resolution %6.2f Å  minibatch %4d  mean ESS %7.2f  elapsed %6.1f s  ETA %6.1f s",
                          s.iteration + 1, total, s.resolution_A, s.minibatch, s.meanESS, elapsed, eta)
            + "  per iteration: " + RefineLog.breakdown(meanSeconds, unit: "ms", scale: 1000)
        lines.append(line)
        return line
    }
}
