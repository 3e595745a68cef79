import DuetCore

/// Parameters of the stochastic-gradient ab-initio reconstruction of one particle set (docs/design.md §2), with
/// CryoSPARC's Ab-Initio names and defaults where it has them. Lengths in Å, angles in degrees.
public struct AbinitConfiguration: Sendable, Codable, Equatable {
    /// Resolution at which the search starts (CryoSPARC "Initial resolution", 35 Å).
    public var initialResolution_A = 35.0
    /// Resolution reached at the end of the initial iterations (CryoSPARC "Maximum resolution"; nil: Nyquist).
    public var maximumResolution_A: Double?
    /// Iterations while the resolution rises from initial to maximum (CryoSPARC "Number of initial iterations").
    public var initialIterations = 200
    /// Iterations at the maximum resolution (CryoSPARC "Number of final iterations").
    public var finalIterations = 300
    /// Images per minibatch before and after `minibatchSwitchIteration` (CryoSPARC 90 / 300). A final minibatch of
    /// 0 is CryoSPARC's autotune (`finalMinibatch(diameter_A:symmetryOrder:)`).
    public var initialMinibatch = 90
    public var finalMinibatch = 300
    public var minibatchSwitchIteration = 300
    /// Learning rate for the first `highLearningRateIterations` iterations (CryoSPARC "Initial learning rate", 0.4),
    /// and afterwards.
    public var initialLearningRate = 0.4
    public var highLearningRateIterations = 100
    public var learningRate = 0.1
    /// CryoSPARC's noise model: one σ² per shell (`symmetric`, the default) or one for all (`white`).
    public var noiseModel = NoiseModelKind.symmetric
    /// Weight, in Fourier coefficients per shell, of the previous noise estimate against a minibatch's residuals
    /// (CryoSPARC's "Noise priorw" counts images; its 50 images broke the short messy CI check, see the README).
    public var noisePriorWeight = 5_000.0
    /// The starting σ of the noise model as a multiple of the images' own power per shell (CryoSPARC "Noise
    /// initial sigma-scale"): above 1, the first posteriors are broad. nil (CryoSPARC's default, not Duet's): tuned
    /// so that the first posteriors spread over `targetESSFraction` of the global pose grid (`NoiseScaleTuning`).
    /// Duet keeps 3, which converged more often in the README's measurements.
    public var noiseInitialSigmaScale: Double? = 3
    /// CryoSPARC's "Target 3D ESS fraction" (0.011).
    public var targetESSFraction = 0.011
    /// Particle diameter in Å (nil: 90 % of the box). Sets the background circle and the real-space window.
    public var particleDiameter_A: Double?
    /// Fourier radius (pixels) up to which the global rotation grid is scored; the local refinement around each
    /// image's best rotation uses the full current radius.
    public var coarseSearchRadius_px = 10
    /// Separate modes of each search level's posterior refined at the next level (1: only the best pose).
    public var poseSearchModes = 4
    /// Largest in-plane shift searched globally, in pixels (nil: 10 % of the box, at least 3 px, which covers real
    /// pick offsets); searched on a disc whose grid step follows the coarse radius, refined locally to 0.5 px.
    public var maxShift_px: Int?
    /// Minimum alignment resolution, Å (CryoSPARC "Minimum alignment resolution"): Fourier coefficients coarser
    /// than this are ignored by the pose search (ice gradients, carbon). nil: only the DC term is ignored.
    public var minimumAlignmentResolution_A: Double?
    /// Estimate each image's contrast scale at every pose (CryoSPARC's per-image optimal scale) with the prior
    /// `α ~ N(1, scalePriorSigma²)`, and use it in the gradient, so images of thin or thick ice fit and empty or
    /// junk images (scale near 0) do not pull the map. false: every image has scale 1.
    public var perImageScale = true
    public var scalePriorSigma = 0.5
    /// Real-space constraints after every step.
    public var enforceNonNegativity = true
    public var window = true
    public var recentre = true
    /// The particle's point group, RELION's name (`C1`, `Cn`, `Dn`, `T`, `O`, `I`; `SymmetryGroup`): the map is
    /// kept symmetric (every pose back-projected at its |G| equivalent rotations) and the global pose search covers
    /// one asymmetric unit.
    public var symmetry = "C1"
    /// Use at most this many particles (nil: all).
    public var particleLimit: Int?
    public var seed: UInt64 = 1
    /// Worker threads (nil: all cores). Results do not depend on it.
    public var threads: Int?

    public init() {}

    /// The particle diameter in pixels: `particleDiameter_A`, or 90 % of the box.
    public func particleDiameter_px(box: Int, pixelSize_A: Double) -> Double {
        particleDiameter_A.map { $0 / pixelSize_A } ?? 0.9 * Double(box)
    }

    /// Diameter below which a particle counts as small for the minibatch autotune, Å.
    public static let smallParticleDiameter_A = 150.0

    /// The final minibatch: `finalMinibatch`, or for 0 CryoSPARC's autotune, 1000 images for a small particle
    /// (diameter below `smallParticleDiameter_A`) or a high-order group (T, O, I: order ≥ 12), 300 otherwise.
    public func finalMinibatch(diameter_A: Double, symmetryOrder: Int) -> Int {
        guard finalMinibatch == 0 else { return finalMinibatch }
        return diameter_A < Self.smallParticleDiameter_A || symmetryOrder >= 12 ? 1000 : 300
    }

    /// The largest shift searched, pixels: `maxShift_px` or 10 % of the box (at least 3).
    public func maxShift_px(box: Int) -> Int {
        maxShift_px ?? max(3, Int((0.1 * Double(box)).rounded()))
    }

    /// The high-pass radius of the pose search in image Fourier pixels: `box · pixel / minimum alignment
    /// resolution`, or 1 (the DC term alone).
    public func minimumAlignmentRadius_px(box: Int, pixelSize_A: Double) -> Double {
        minimumAlignmentResolution_A.map { max(1, Double(box) * pixelSize_A / $0) } ?? 1
    }

    /// Throws a one-line error naming the first option that is out of range.
    public func validate() throws {
        func isLength(_ x: Double) -> Bool { x.isFinite && x > 0 }
        guard isLength(initialResolution_A) else { throw DuetError("--initial-resolution must be a resolution > 0 Å") }
        if let r = maximumResolution_A {
            guard isLength(r) else { throw DuetError("--max-resolution must be a resolution > 0 Å") }
            guard r <= initialResolution_A else {
                throw DuetError("--max-resolution (\(r) Å) must not be coarser than --initial-resolution (\(initialResolution_A) Å)")
            }
        }
        guard initialIterations >= 1 else { throw DuetError("--initial-iterations must be at least 1") }
        guard finalIterations >= 0 else { throw DuetError("--final-iterations must be ≥ 0") }
        guard initialMinibatch >= 1 else { throw DuetError("--initial-minibatch must be at least 1") }
        guard minibatchSwitchIteration >= 0 else { throw DuetError("--minibatch-switch must be ≥ 0") }
        guard isLength(initialLearningRate) else { throw DuetError("--initial-learning-rate must be > 0") }
        guard isLength(learningRate) else { throw DuetError("--learning-rate must be > 0") }
        guard highLearningRateIterations >= 0 else { throw DuetError("--high-lr-iterations must be ≥ 0") }
        if let d = particleDiameter_A { guard isLength(d) else { throw DuetError("--diameter must be a length > 0 Å") } }
        if let limit = particleLimit { guard limit >= 1 else { throw DuetError("--particle-limit must be at least 1") } }
        if let threads { guard threads >= 1 else { throw DuetError("--threads must be at least 1") } }
        guard finalMinibatch >= 0 else { throw DuetError("--final-minibatch must be ≥ 0 (0: autotune)") }
        if let maxShift_px { guard maxShift_px >= 0 else { throw DuetError("--max-shift must be ≥ 0 pixels") } }
        if let r = minimumAlignmentResolution_A {
            guard r.isFinite && r > 0 else { throw DuetError("--min-align-resolution must be a resolution > 0 Å") }
        }
        _ = try symmetryGroup()
        guard scalePriorSigma.isFinite && scalePriorSigma > 0 else {
            throw DuetError("--per-image-scale-sigma must be > 0")
        }
        guard poseSearchModes >= 1 else { throw DuetError("--pose-search-modes must be at least 1") }
        if let scale = noiseInitialSigmaScale {
            guard scale.isFinite && scale > 0 else { throw DuetError("--noise-initial-sigma-scale must be > 0") }
        }
        guard targetESSFraction > 0 && targetESSFraction < 1 else {
            throw DuetError("--target-ess-fraction must be between 0 and 1")
        }
        guard noisePriorWeight.isFinite && noisePriorWeight >= 0 else {
            throw DuetError("--noise-prior-weight must be ≥ 0")
        }
    }

    /// Throws a one-line error when the maximum resolution is finer than Nyquist (2 pixels of `pixelSize_A`).
    public func validate(pixelSize_A: Double) throws {
        if let r = maximumResolution_A, r < 2 * pixelSize_A - 1e-9 {
            throw DuetError(String(format: "--max-resolution %g Å is finer than Nyquist (%g Å at %g Å/px)",
                                   r, 2 * pixelSize_A, pixelSize_A))
        }
    }

    /// The point group `symmetry` names (throws a one-line error for an unknown name).
    public func symmetryGroup() throws -> SymmetryGroup {
        try SymmetryGroup(option: symmetry)
    }

    /// Total number of iterations.
    public var iterations: Int { initialIterations + finalIterations }
}

/// CryoSPARC's choice of noise model for pose inference (`NoiseModel`).
public enum NoiseModelKind: String, Sendable, Codable, CaseIterable {
    /// One σ² for every Fourier shell.
    case white
    /// One σ² per Fourier shell: coloured noise, radially symmetric.
    case symmetric
    /// One σ² per Fourier coefficient (2-D): coloured noise whose power may also depend on direction.
    case coloured
}
