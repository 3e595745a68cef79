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

    @Option(name: .customLong("pixel-size"), help: "Pixel size in Å, when the particle file lacks it.")
    var pixelSize_A: Double?

    @OptionGroup var sgd: SGDOptions

    func run() throws {
        let progress = ProgressDisplay()
        let summary = try AbinitJob.run(particlesPath: particles, outputDirectory: out, pixelSize_A: pixelSize_A,
                                        configuration: sgd.configuration, communicator: MPICommunicator.world(),
                                        progress: progress.show)
        progress.finish()
        if let summary { print(summary) }
    }
}
