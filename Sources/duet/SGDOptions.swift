import ArgumentParser
import DuetEngine

/// The stochastic-gradient schedule options shared by `duet abinit` and `duet refine`, with CryoSPARC's names;
/// defaults come from `AbinitConfiguration`.
struct SGDOptions: ParsableArguments {
    private static let defaults = AbinitConfiguration()

    @Option(name: .customLong("initial-resolution"), help: "Resolution the search starts at, Å.")
    var initialResolution_A: Double = defaults.initialResolution_A

    @Option(name: .customLong("max-resolution"), help: "Resolution reached after the initial iterations, Å (default Nyquist).")
    var maximumResolution_A: Double?

    @Option(help: "Iterations while the resolution rises.")
    var initialIterations: Int = defaults.initialIterations

    @Option(help: "Iterations at the maximum resolution.")
    var finalIterations: Int = defaults.finalIterations

    @Option(help: "Minibatch size before --minibatch-switch.")
    var initialMinibatch: Int = defaults.initialMinibatch
    @Option(help: "Minibatch size after the switch.")
    var finalMinibatch: Int = defaults.finalMinibatch
    @Option(help: "Iteration at which the minibatch grows.")
    var minibatchSwitch: Int = defaults.minibatchSwitchIteration

    @Option(help: "Learning rate of the first --high-lr-iterations iterations.")
    var initialLearningRate: Double = defaults.initialLearningRate
    @Option(help: "Iterations at the initial learning rate.")
    var highLrIterations: Int = defaults.highLearningRateIterations
    @Option(help: "Learning rate afterwards.")
    var learningRate: Double = defaults.learningRate

    @Option(help: "Starting noise σ as a multiple of the images' own power per shell.")
    var noiseInitialSigmaScale: Double = defaults.noiseInitialSigmaScale
    @Option(help: "Weight of the previous noise estimate against a minibatch's residuals, in Fourier coefficients per shell.")
    var noisePriorWeight: Double = defaults.noisePriorWeight

    @Option(name: .customLong("diameter"), help: "Particle diameter, Å (default 90 % of the box).")
    var particleDiameter_A: Double?

    @Option(help: "Largest in-plane shift searched, pixels.")
    var maxShift: Int = defaults.maxShift_px

    @Option(help: "Separate posterior modes refined at each level of the coarse-to-fine pose search.")
    var poseSearchModes: Int = defaults.poseSearchModes

    @Option(help: "Use at most this many particles.")
    var particleLimit: Int?

    @Option(help: "Random seed.")
    var seed: UInt64 = defaults.seed

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    /// The engine configuration these options describe.
    var configuration: AbinitConfiguration {
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
        c.noiseInitialSigmaScale = noiseInitialSigmaScale
        c.noisePriorWeight = noisePriorWeight
        c.particleDiameter_A = particleDiameter_A
        c.maxShift_px = maxShift
        c.poseSearchModes = poseSearchModes
        c.particleLimit = particleLimit
        c.seed = seed
        c.threads = threads
        return c
    }
}
