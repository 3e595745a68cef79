import ArgumentParser
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

    @Option(name: .customLong("initial-resolution"), help: "Resolution the search starts at, Å.")
    var initialResolution_A: Double = 35

    @Option(name: .customLong("max-resolution"), help: "Resolution reached after the initial iterations, Å (default Nyquist).")
    var maximumResolution_A: Double?

    @Option(help: "Iterations while the resolution rises.")
    var initialIterations: Int = 200

    @Option(help: "Iterations at the maximum resolution.")
    var finalIterations: Int = 300

    @Option(help: "Minibatch size before / after --minibatch-switch.")
    var initialMinibatch: Int = 90
    @Option(help: "Minibatch size after the switch.")
    var finalMinibatch: Int = 300
    @Option(help: "Iteration at which the minibatch grows.")
    var minibatchSwitch: Int = 300

    @Option(help: "Learning rate of the first --high-lr-iterations iterations.")
    var initialLearningRate: Double = 0.4
    @Option(help: "Iterations at the initial learning rate.")
    var highLrIterations: Int = 100
    @Option(help: "Learning rate afterwards.")
    var learningRate: Double = 0.1

    @Option(name: .customLong("diameter"), help: "Particle diameter, Å (default 90 % of the box).")
    var particleDiameter_A: Double?

    @Option(help: "Largest in-plane shift searched, pixels.")
    var maxShift: Int = 2

    @Option(help: "Use at most this many particles.")
    var particleLimit: Int?

    @Option(help: "Random seed.")
    var seed: UInt64 = 1

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    func run() throws {
        var c = AbinitConfiguration()
        c.initialResolution_A = initialResolution_A
        c.maximumResolution_A = maximumResolution_A
        c.initialIterations = initialIterations
        c.finalIterations = finalIterations
        c.initialMinibatch = initialMinibatch
        c.finalMinibatch = finalMinibatch
        c.minibatchSwitchIteration = minibatchSwitch
        c.initialLearningRate = initialLearningRate
        c.highLearningRateIterations = highLrIterations
        c.learningRate = learningRate
        c.particleDiameter_A = particleDiameter_A
        c.maxShift_px = maxShift
        c.particleLimit = particleLimit
        c.seed = seed
        c.threads = threads
        let summary = try AbinitJob.run(particlesPath: particles, outputDirectory: out, pixelSize_A: pixelSize_A,
                                        configuration: c) { line in print(line) }
        print(summary)
    }
}
