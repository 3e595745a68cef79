import DuetComm
import DuetCore
import DuetFormats
import DuetKernels
import Foundation

/// `duet refine PARTICLES --out DIR`: gold-standard homogeneous ab-initio refinement (CryoSPARC "Homogeneous
/// Ab-Initio Refinement", docs/design.md §3–4). The particles are split into halves A and B (or the input's split is
/// kept); each half is reconstructed from its own random start by `AbinitEngine` on its own communicator
/// (`HalfSetRanks`), half B is aligned onto half A every `alignmentInterval` iterations and at the end
/// (`HalfMapAlignment`); at the end every particle's pose is inferred once more against its half's final map, then
/// `refinementRounds` rounds of `HalfSetRefinementRound` refine the poses against reconstructions of the half's own
/// particles, and each half's map is a direct reconstruction of its particles at the final poses (`RefineOutputs`).
/// Checkpoints every `checkpointInterval` iterations and on SIGTERM, SIGINT or SIGHUP; `resume` continues from the
/// last one. Every rank times its stages (`StageTimes`, collectives through a `TimedCommunicator`); the log and
/// `duet.h5` report their mean over the ranks per iteration, and the summary their totals.
public enum RefineJob {
    public struct Configuration: Sendable {
        /// The run's settings, stored in its checkpoints.
        public var settings: RefineConfiguration
        /// Continue the run in `settings.outputDirectory` from its last checkpoint, with the checkpoint's settings
        /// (only the thread count is taken from `settings`).
        public var resume = false
        /// Write into an output directory that holds another run's outputs (never over an input).
        public var overwrite = false

        public init(settings: RefineConfiguration) { self.settings = settings }
    }

    /// Runs the refinement (collective over `world`); returns the summary on world rank 0, nil elsewhere.
    /// `progress` receives notes and a line every 10 iterations on world rank 0.
    public static func run(_ configuration: Configuration, world untimedWorld: Communicator,
                           progress: @escaping (String) -> Void = { _ in }) throws -> String? {
        let times = StageTimes()
        let world = TimedCommunicator(untimedWorld, times: times)
        // Every check that can fail on bad input, agreed over the ranks: one error line and a clean exit.
        let (c, checkpoint, job, set) = try world.agreeing {
            try prepare(configuration.settings, resume: configuration.resume, overwrite: configuration.overwrite,
                        times: times)
        }
        let box = job.box, pixelSize_A = job.pixelSize_A
        if world.isRoot, let note = set.noteWithoutCTF { progress(note) }
        let ranks = try HalfSetRanks.split(world)
        TerminationSignal.install()

        // Each rank checks the stacks of its share of its halves' images (the pixels are read in the background as
        // the iterations need them) and reads their checkpointed states, agreed over the ranks like the checks above.
        let data = try world.agreeing {
            try times.measure(.io) {
                try ranks.halves.map { half in
                    (try HalfSetRun.Data(half: half, set: set, box: box, pixelSize_A: pixelSize_A,
                                         configuration: c.sgd, communicator: ranks.communicator),
                     try checkpoint?.state(of: half))
                }
            }
        }
        let halves = ServedHalves(runs: try data.map { data, state in
            let run = try times.measure(.io) {
                try HalfSetRun(data, configuration: c.sgd, communicator: ranks.communicator, world: world, times: times)
            }
            if let state { try run.engine.restore(state) }
            return run
        })
        var sigmaScales = [0.0, 0.0]
        for run in halves where ranks.communicator.isRoot {
            sigmaScales[run.half.rawValue] = run.engine.initialSigmaScale
        }
        try world.allreduceSum(&sigmaScales)   // each entry from one rank: exact
        if world.isRoot && checkpoint == nil {
            progress(String(format: "noise initial sigma-scale %.2f (half A), %.2f (half B)", sigmaScales[0], sigmaScales[1])
                     + (c.sgd.noiseInitialSigmaScale == nil ? ", tuned to ESS fraction \(c.sgd.targetESSFraction)" : ""))
        }
        let alignment = HalfMapAlignment(world: world, ranks: ranks, box: box, pixelSize_A: pixelSize_A,
                                         threads: c.sgd.threads)
        let total = c.sgd.iterations
        var t = checkpoint?.iteration ?? 0
        var log = RefineLog(total: total, first: t)
        var lastAlignment: HalfMapAlignment.Outcome?
        var timesBefore = times.seconds
        while t < total {
            // The mean ESS of each half (from that half's rank 0), then this rank's seconds in each stage.
            var statistics = [0.0, 0.0]
            var resolution_A = 0.0
            for run in halves {
                let summary = try run.engine.iterate()
                resolution_A = summary.resolution_A
                if ranks.communicator.isRoot { statistics[run.half.rawValue] = summary.meanESS }
            }
            t += 1
            if t % max(1, c.alignmentInterval) == 0 || t == total {
                lastAlignment = try times.measure(.alignment) {
                    try alignment.align(halves, resolution_A: c.alignmentResolution_A(current_A: resolution_A))
                }
            }
            statistics += zip(times.seconds, timesBefore).map { $0 - $1 }
            timesBefore = times.seconds
            try world.allreduceSum(&statistics)   // the ESS entries come from one rank each: exact
            if world.isRoot {
                let stageSeconds = statistics.dropFirst(2).map { $0 / Double(world.size) }
                let line = log.record(iteration: t, resolution_A: resolution_A, ess: Array(statistics.prefix(2)),
                                      alignment: lastAlignment, stageSeconds: stageSeconds, ranks: world.size)
                if let line { progress(line) }
            }
            let stop = try TerminationSignal.requested(world: world)
            if stop != nil || (c.checkpointInterval > 0 && t % c.checkpointInterval == 0 && t < total) {
                try OutputDirectory.create(c.outputDirectory, on: world)
                try times.measure(.io) {
                    try writeCheckpoint(iteration: t, configuration: c, halves: halves, world: world)
                }
            }
            if let stop {
                throw StoppedBySignal(message: "stopped by \(stop.name) after iteration \(t) of \(total); checkpoint "
                    + "written: continue with duet refine --resume \(c.outputDirectory)", signal: stop.signal)
            }
        }
        // Every image is used from here on: the reading (which overlapped the iterations) is finished and agreed
        // over the ranks, so that an image that cannot be read ends the run with one line. The output directory is
        // created when there is something to write, so that such bad input leaves none behind.
        try world.agreeing { try times.measure(.io) { for run in halves { try run.engine.data.waitForAll() } } }
        if world.isRoot { progress(halves.map(\.engine.data.reading).reduce(.init(), +).note) }
        try OutputDirectory.create(c.outputDirectory, on: world)
        if world.isRoot { progress("final pose assignment of every particle against its half's final map") }
        for run in halves { try run.engine.assignFinalPoses() }
        for round in 0..<c.refinementRounds {
            var resolutions = [0.0, 0.0]
            for run in halves {
                let refinement = HalfSetRefinementRound(box: box, pixelSize_A: pixelSize_A,
                                                        communicator: ranks.communicator)
                let resolution_A = try refinement.refine(run, local: round > 0)
                if ranks.communicator.isRoot { resolutions[run.half.rawValue] = resolution_A }
            }
            try world.allreduceSum(&resolutions)   // each entry from one rank: exact
            if world.isRoot {
                progress(String(format: "refinement round %d/%d: poses searched to %.2f Å (half A), %.2f Å (half B), "
                                + "FSC of each half's two chains", round + 1, c.refinementRounds, resolutions[0], resolutions[1]))
            }
        }
        let summary = try RefineOutputs.write(halves: halves, input: job.file, set: set, box: box,
                                              pixelSize_A: pixelSize_A, configuration: c, ranks: ranks, world: world,
                                              log: log, times: times)
        var totals = times.seconds
        try untimedWorld.allreduceSum(&totals)
        return summary.map { $0 + "\n" + RefineLog.breakdown(totals.map { $0 / Double(world.size) }, unit: "s", scale: 1)
                                 + " (whole run, mean over \(world.size) rank(s))" }
    }

    /// The configuration (the checkpoint's on `resume`, with this run's threads and output directory), the
    /// checkpoint, the input and the particles used with their half-sets; every check of options and input.
    private static func prepare(_ configuration: RefineConfiguration, resume: Bool, overwrite: Bool,
                                times: StageTimes) throws -> (RefineConfiguration, Checkpoint?, JobInput, ParticleSet) {
        try configuration.validate()
        var c = configuration
        // Absolute, so that a resume from another working directory finds the particles.
        c.particlesPath = URL(fileURLWithPath: c.particlesPath).standardizedFileURL.path
        c.workingDirectory = FileManager.default.currentDirectoryPath
        var checkpoint: Checkpoint?
        if resume {
            let found = try Checkpoint.read(output: c.outputDirectory)
            c = found.configuration
            c.sgd.threads = configuration.sgd.threads   // results do not depend on it; the machine may differ
            checkpoint = found
        }
        let job = try times.measure(.io) {
            try JobInput.read(c.particlesPath, pixelSizeOption: c.pixelSize_A, workingDirectory: c.workingDirectory,
                              particleLimit: c.sgd.particleLimit,
                              requirePoses: false, outputDirectory: resume ? nil : c.outputDirectory, overwrite: overwrite)
        }
        try c.sgd.validate(pixelSize_A: job.pixelSize_A)
        var set = job.particles
        set.assignHalves(seed: c.sgd.seed, resplit: c.resplit)
        for half in HalfSet.allCases {
            let count = set.particles.lazy.filter { $0.halfSet == half }.count
            guard count >= 2 else {
                throw DuetError("\(c.particlesPath): half-set \(half.letter) has \(count) particle(s); each half needs at least 2")
            }
        }
        return (c, checkpoint, job, set)
    }

    private static func writeCheckpoint(iteration: Int, configuration: RefineConfiguration,
                                        halves: ServedHalves, world: Communicator) throws {
        var states = [HalfSet: AbinitState]()
        for run in halves {
            if let state = try run.engine.gatherState() { states[run.half] = state }
        }
        try Checkpoint.write(iteration: iteration, configuration: configuration, states: states, world: world)
    }
}
