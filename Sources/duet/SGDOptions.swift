import ArgumentParser
import DuetEngine

/// The stochastic-gradient schedule options shared by `duet abinit` and `duet refine`, with CryoSPARC's names;
/// defaults come from `AbinitConfiguration`.
struct SGDOptions: ParsableArguments {
    private static let defaults = AbinitConfiguration()

    @Option(name: .customLong("initial-resolution"), help: "Resolution the search starts at, Å, > 0.")
    var initialResolution_A: Double = defaults.initialResolution_A

    @Option(name: .customLong("max-resolution"), help: "Resolution reached after the initial iterations, Å, between Nyquist and --initial-resolution (default Nyquist).")
    var maximumResolution_A: Double?

    @Option(help: "Iterations while the resolution rises, ≥ 1.")
    var initialIterations: Int = defaults.initialIterations

    @Option(help: "Iterations at the maximum resolution, ≥ 0.")
    var finalIterations: Int = defaults.finalIterations

    @Option(help: "Minibatch size before --minibatch-switch, ≥ 1.")
    var initialMinibatch: Int = defaults.initialMinibatch
    @Option(help: "Minibatch size after the switch; 0: CryoSPARC's autotune, 1000 for particles under 150 Å or groups T, O, I, else 300.")
    var finalMinibatch: Int = defaults.finalMinibatch
    @Option(help: "Iteration at which the minibatch grows, ≥ 0.")
    var minibatchSwitch: Int = defaults.minibatchSwitchIteration

    @Option(help: "Learning rate of the first --high-lr-iterations iterations, > 0.")
    var initialLearningRate: Double = defaults.initialLearningRate
    @Option(help: "Iterations at the initial learning rate, ≥ 0.")
    var highLrIterations: Int = defaults.highLearningRateIterations
    @Option(help: "Learning rate afterwards, > 0.")
    var learningRate: Double = defaults.learningRate

    @Option(help: "Starting noise σ as a multiple of the images' own power per shell, > 0, or auto: tuned to --target-ess-fraction (CryoSPARC's default).")
    var noiseInitialSigmaScale = SigmaScaleArgument(value: defaults.noiseInitialSigmaScale)
    @Option(name: .customLong("target-ess-fraction"),
            help: "Fraction of the global poses the first posteriors spread over when the starting noise σ is tuned, in (0, 1) (CryoSPARC's Target 3D ESS fraction).")
    var targetESSFraction: Double = defaults.targetESSFraction
    @Option(help: "Weight of the previous noise estimate against a minibatch's residuals, in Fourier coefficients per shell, ≥ 0.")
    var noisePriorWeight: Double = defaults.noisePriorWeight
    @Option(help: "Noise model: symmetric (one σ² per Fourier shell), white (one σ²) or coloured (one σ² per Fourier coefficient, 2-D).")
    var noiseModel: NoiseModelKind = defaults.noiseModel

    @Option(name: .customLong("diameter"), help: "Particle diameter, Å, > 0 (default 90 % of the box).")
    var particleDiameter_A: Double?

    @Option(help: "Largest in-plane shift searched, pixels, ≥ 0 (default 10 % of the box, at least 3).")
    var maxShift: Int?

    @Option(name: .customLong("min-align-resolution"),
            help: "Minimum alignment resolution, Å: coarser Fourier components are ignored by the pose search (default: only the DC term).")
    var minimumAlignmentResolution_A: Double?

    @Flag(inversion: .prefixedNo,
          help: "Estimate each image's contrast scale at every pose (CryoSPARC's per-image optimal scale); images that fit no pose get a scale near 0 and do not pull the map.")
    var perImageScale = defaults.perImageScale

    @Option(help: "σ of the prior N(1, σ²) on each image's contrast scale, > 0.")
    var perImageScaleSigma: Double = defaults.scalePriorSigma

    @Option(help: "Separate posterior modes refined at each level of the coarse-to-fine pose search.")
    var poseSearchModes: Int = defaults.poseSearchModes

    @Option(help: "Point group of the particle, RELION's names and axes: C1, Cn, Dn, T, O or I.")
    var symmetry: String = defaults.symmetry

    @Option(help: "Use at most this many particles, ≥ 1.")
    var particleLimit: Int?

    @Option(help: "Random seed.")
    var seed: UInt64 = defaults.seed

    @Option(help: "Worker threads, ≥ 1 (default: all cores).")
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
        c.noiseInitialSigmaScale = noiseInitialSigmaScale.value
        c.targetESSFraction = targetESSFraction
        c.noisePriorWeight = noisePriorWeight
        c.noiseModel = noiseModel
        c.particleDiameter_A = particleDiameter_A
        c.maxShift_px = maxShift
        c.minimumAlignmentResolution_A = minimumAlignmentResolution_A
        c.perImageScale = perImageScale
        c.scalePriorSigma = perImageScaleSigma
        c.poseSearchModes = poseSearchModes
        c.symmetry = symmetry
        c.particleLimit = particleLimit
        c.seed = seed
        c.threads = threads
        return c
    }
}

extension NoiseModelKind: ExpressibleByArgument {
    /// CryoSPARC's names, and `colored` for `coloured`.
    public init?(argument: String) {
        self.init(rawValue: argument == "colored" ? "coloured" : argument)
    }
}

/// `--noise-initial-sigma-scale`: a number, or `auto` (nil: tuned to the target ESS fraction).
struct SigmaScaleArgument: ExpressibleByArgument {
    var value: Double?

    init(value: Double?) { self.value = value }

    init?(argument: String) {
        if argument == "auto" { value = nil; return }
        guard let number = Double(argument) else { return nil }
        value = number
    }

    var defaultValueDescription: String { value.map { String($0) } ?? "auto" }
}
