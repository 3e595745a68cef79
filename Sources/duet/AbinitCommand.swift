import ArgumentParser
import DuetComm
import DuetEngine
import Foundation

/// `duet abinit PARTICLES --out DIR`: ab-initio reconstruction of one particle set by stochastic gradient descent.
struct AbinitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "abinit",
        abstract: "Ab-initio reconstruction of one particle set from a random start (stochastic gradient descent).")

    @Argument(help: "Particles (.star or .cs) with CTF; poses are not needed.")
    var particles: String

    @Option(help: "Output directory.")
    var out: String

    @Option(name: .customLong("pixel-size"), help: "Pixel size in Å, > 0; replaces the particle file's own.")
    var pixelSize_A: Double?

    @Flag(help: "Write into --out even when it holds another run's outputs (never over an input file).")
    var overwrite = false

    @OptionGroup var sgd: SGDOptions

    func run() throws {
        // Options first, before MPI starts: a bad value costs no MPI start-up (the job checks them again).
        try sgd.configuration.validate()
        let progress = ProgressDisplay()
        var configuration = AbinitJob.Configuration(particlesPath: particles, outputDirectory: out)
        configuration.pixelSize_A = pixelSize_A
        configuration.overwrite = overwrite
        configuration.sgd = sgd.configuration
        let summary = try AbinitJob.run(configuration, world: MPICommunicator.world(), progress: progress.show)
        progress.finish()
        if let summary { print(summary) }
    }
}
