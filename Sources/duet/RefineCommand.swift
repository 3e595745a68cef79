import ArgumentParser
import DuetComm
import DuetCore
import DuetEngine
import Foundation

/// `duet refine PARTICLES --out DIR`: gold-standard ab-initio refinement of two independent half-sets.
struct RefineCommand: ParsableCommand {
    private static let defaults = RefineConfiguration(particlesPath: "", outputDirectory: "")

    static let configuration = CommandConfiguration(
        commandName: "refine",
        abstract: "Gold-standard ab-initio refinement: two half-sets reconstructed independently from random starts.",
        discussion: "Run under mpirun for several ranks: half the ranks serve half-set A, the rest half-set B.")

    @Argument(help: "Particles (.star or .cs) with CTF; poses are not needed. Not needed with --resume.")
    var particles: String?

    @Option(help: "Output directory.")
    var out: String?

    @Option(name: .customLong("resume"), help: "Continue the run in this output directory from its last checkpoint, with its settings (only --threads may be given).")
    var resumeDirectory: String?

    @Option(name: .customLong("pixel-size"), help: "Pixel size in Å, > 0; replaces the particle file's own.")
    var pixelSize_A: Double?

    @Flag(help: "Split into halves at random even if the input has a split.")
    var resplit = false

    @Option(help: "Align half B onto half A every this many iterations (and at the end).")
    var alignEvery: Int = defaults.alignmentInterval

    @Option(help: "Write a checkpoint every this many iterations (0: only on SIGTERM, SIGINT or SIGHUP).")
    var checkpointEvery: Int = defaults.checkpointInterval

    @Option(help: "Rounds after the SGD in which each half is reconstructed from its own particles, filtered by its own FSC and every pose searched again (the first over all poses, later ones near the current pose), ≥ 0.")
    var refinementRounds: Int = defaults.refinementRounds

    @Flag(help: "Write into --out even when it holds another run's outputs (never over an input file).")
    var overwrite = false

    @OptionGroup var sgd: SGDOptions

    func validate() throws {
        if resumeDirectory == nil && (particles == nil || out == nil) {
            throw ValidationError("give PARTICLES and --out DIR, or --resume DIR")
        }
    }

    func run() throws {
        if resumeDirectory != nil {
            var sgdGiven = sgd.configuration
            sgdGiven.threads = nil
            let defaults = Self.defaults
            guard particles == nil && out == nil && pixelSize_A == nil && !resplit && !overwrite
                    && alignEvery == defaults.alignmentInterval && checkpointEvery == defaults.checkpointInterval
                    && refinementRounds == defaults.refinementRounds && sgdGiven == defaults.sgd else {
                throw DuetError("--resume continues with the checkpoint's settings: give no other option but --threads")
            }
        }
        let directory = resumeDirectory ?? out!
        var c = RefineConfiguration(particlesPath: particles ?? "", outputDirectory: directory)
        c.pixelSize_A = pixelSize_A
        c.sgd = sgd.configuration
        c.resplit = resplit
        c.alignmentInterval = alignEvery
        c.checkpointInterval = checkpointEvery
        c.refinementRounds = refinementRounds
        // Options first, before MPI starts: a bad value costs no MPI start-up (the job checks them again).
        try c.validate()
        let progress = ProgressDisplay()
        var configuration = RefineJob.Configuration(settings: c)
        configuration.resume = resumeDirectory != nil
        configuration.overwrite = overwrite
        let summary = try RefineJob.run(configuration, world: MPICommunicator.world(), progress: progress.show)
        progress.finish()
        if let summary { print(summary) }
    }
}
