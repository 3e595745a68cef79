import DuetCore
import DuetKernels
import Foundation

/// What the ab-initio reconstruction learned about one particle: its most probable pose, the effective number of
/// poses sharing its posterior (1 = certain), and the last iteration that saw it (nil: never, an unused particle).
public struct ParticleAssignment: Sendable {
    public var pose: Pose?
    public var effectiveSampleSize: Double
    public var lastIteration: Int?
}

/// Stochastic-gradient ab-initio reconstruction of one particle set from a random start (DESIGN.md §2, after
/// Punjani et al. 2017). Each iteration draws a minibatch, infers each image's posterior over rotations × shifts
/// under the per-shell noise model (global grid search, then a finer local grid around the best rotation), takes a
/// preconditioned gradient step on the Fourier volume (`V ← V − lr · g / (H + λ)`, with `g` and the diagonal
/// curvature `H` from `DataTerm`), applies the real-space constraints (non-negativity, soft window, re-centring) and
/// updates the noise model from the residuals at the best poses. The Fourier radius rises linearly from
/// `initialResolution_A` to `maximumResolution_A` over the initial iterations, so cost follows resolution.
final class AbinitEngine {
    let configuration: AbinitConfiguration
    let data: PreparedParticles
    let log: (String) -> Void
    private(set) var volume: FourierVolume
    private(set) var assignments: [ParticleAssignment]
    private var noise: NoiseModel
    private var generator: SeededGenerator
    private let grid: FourierGrid
    private let diameter_px: Double
    private let maxRadius_px: Int

    init(configuration: AbinitConfiguration, data: PreparedParticles, log: @escaping (String) -> Void) {
        self.configuration = configuration
        self.data = data
        self.log = log
        let box = data.box
        grid = FourierGrid(box: box)
        diameter_px = configuration.particleDiameter_px(box: box, pixelSize_A: data.pixelSize_A)
        let nyquistRadius = box / 2 - 1
        maxRadius_px = configuration.maximumResolution_A.map {
            min(nyquistRadius, Int((Double(box) * data.pixelSize_A / $0).rounded()))
        } ?? nyquistRadius
        generator = SeededGenerator(seed: configuration.seed, stream: 0xAB1)
        assignments = Array(repeating: ParticleAssignment(pose: nil, effectiveSampleSize: 0, lastIteration: nil),
                            count: data.particles.count)
        let sample = Array(0..<min(data.particles.count, 500))
        noise = NoiseModel(particles: data, sample: sample, priorWeight: configuration.noisePriorWeight)
        volume = Self.randomStart(box: box, diameter_px: diameter_px, grid: grid, generator: &generator)
    }

    /// Fourier radius (image pixels) of iteration `t`.
    func radius(iteration t: Int) -> Int {
        let r0 = min(maxRadius_px, max(3, Int((Double(data.box) * data.pixelSize_A / configuration.initialResolution_A).rounded())))
        let progress = min(1, Double(t) / Double(max(1, configuration.initialIterations)))
        return r0 + Int((Double(maxRadius_px - r0) * progress).rounded())
    }

    func run() {
        let start = Date()
        let total = configuration.iterations
        for t in 0..<total {
            let r = radius(iteration: t)
            let size = min(data.particles.count,
                           t < configuration.minibatchSwitchIteration ? configuration.initialMinibatch : configuration.finalMinibatch)
            var indices = Array(data.particles.indices)
            indices.shuffle(using: &generator)
            let minibatch = Array(indices.prefix(size)).sorted()
            let essMean = step(iteration: t, radius: r, minibatch: minibatch)
            if t % 10 == 0 || t == total - 1 {
                let elapsed = Date().timeIntervalSince(start)
                let eta = elapsed / Double(t + 1) * Double(total - t - 1)
                log(String(format: "iteration %4d/%d  resolution %6.2f Å  minibatch %4d  mean ESS %7.2f  elapsed %6.1f s  ETA %6.1f s",
                           t + 1, total, Double(data.box) * data.pixelSize_A / Double(r), size, essMean, elapsed, eta))
            }
        }
    }

    /// One SGD iteration; returns the mean effective sample size of the minibatch's posteriors.
    private func step(iteration t: Int, radius r: Int, minibatch: [Int]) -> Double {
        let batch = data.images.subset(minibatch)
        let search = CoarseToFineSearch(box: data.box, diameter_px: diameter_px, radius_px: r,
                                        coarseRadius_px: configuration.coarseSearchRadius_px,
                                        maxShift_px: configuration.maxShift_px, threads: configuration.threads)
        let posteriors = search.search(volume: volume, batch: batch, noiseVariance: noise.variance)
        let poses = posteriors.map(\.poses)
        var essSum = 0.0
        for (index, posterior) in zip(minibatch, posteriors) {
            essSum += posterior.ess
            let best = posterior.poses[0]
            assignments[index] = ParticleAssignment(
                pose: Pose(rotation: best.rotation, shiftX_A: -best.shift_px.x * data.pixelSize_A,
                           shiftY_A: -best.shift_px.y * data.pixelSize_A),
                effectiveSampleSize: posterior.ess, lastIteration: t)
        }
        updateNoise(batch: batch, poses: poses, radius: r)

        let gradient = DataTerm.gradientSlices(volume: volume, images: batch, poses: poses, noiseVariance: noise.variance,
                                               radius_px: r, threads: configuration.threads)
        let accumulator = ExactBackProjector(grid: grid, radius_px: r,
                                             scale: ExactBackProjector.scale(maxAbsoluteValue: gradient.maxAbsoluteValue,
                                                                             sliceCount: gradient.count))
        gradient.insert(into: accumulator, threads: configuration.threads)
        let learningRate = t < configuration.highLearningRateIterations ? configuration.initialLearningRate
                                                                         : configuration.learningRate
        var curvatureSum = 0.0, curvatureCount = 0.0
        accumulator.forEachCell { _, _, weight in
            curvatureSum += weight
            curvatureCount += 1
        }
        let damping = curvatureCount > 0 ? 0.01 * curvatureSum / curvatureCount : 1
        accumulator.forEachCell { i, numerator, weight in
            volume.data[i] -= SIMD2<Float>(learningRate * numerator / (weight + damping))
        }
        volume = constrained(volume)
        return essSum / Double(max(1, minibatch.count))
    }

    /// The noise model follows the residual power at each image's best pose.
    private func updateNoise(batch: PoseImageBatch, poses: [[WeightedPose]], radius r: Int) {
        let box = data.box
        var power = [Double](repeating: 0, count: box), counts = [Double](repeating: 0, count: box)
        let slice = AlignedBuffer<SIMD2<Float>>(count: data.complexCount)
        for (slot, imagePoses) in poses.enumerated() {
            guard let best = imagePoses.first else { continue }
            volume.project(rotation: best.rotation, translation_px: best.shift_px, radius_px: r, into: slice.baseAddress)
            let x = batch.spectra.baseAddress + slot * data.complexCount, c = batch.ctfs.baseAddress + slot * data.complexCount
            NoiseModel.forEachCoefficient(box: box, radius_px: r) { k, shell in
                let residual = SIMD2<Double>(x[k] - c[k] * slice[k])
                power[shell] += (residual * residual).sum() / 2
                counts[shell] += 1
            }
        }
        noise.update(residualPower: power, counts: counts)
    }

    /// A random volume from the seed, low-passed to Fourier radius 7 and made non-negative (CryoSPARC's start).
    private static func randomStart(box: Int, diameter_px: Double, grid: FourierGrid,
                                    generator: inout SeededGenerator) -> FourierVolume {
        var noiseMap = (0..<(box * box * box)).map { _ in Float(generator.nextGaussian()) }
        RealSpaceConstraints.applySphericalWindow(&noiseMap, box: box, innerRadius_px: diameter_px / 2 - 2,
                                                  outerRadius_px: diameter_px / 2 + 2)
        let start = FourierVolume(map: noiseMap, grid: FourierGrid(box: box, maxRadius_px: min(7, box / 2)), fftwThreads: 1)
        var map = start.map(fftwThreads: 1)
        _ = RealSpaceConstraints.clampNegative(&map)
        return FourierVolume(map: map, grid: grid, fftwThreads: 1)
    }

    /// The real-space constraints: non-negativity, a soft spherical window at the particle diameter, re-centring.
    private func constrained(_ volume: FourierVolume) -> FourierVolume {
        let box = data.box
        var map = volume.map(fftwThreads: 1)
        if configuration.enforceNonNegativity { _ = RealSpaceConstraints.clampNegative(&map) }
        if configuration.window {
            RealSpaceConstraints.applySphericalWindow(&map, box: box, innerRadius_px: diameter_px / 2,
                                                      outerRadius_px: min(Double(box) / 2, diameter_px / 2 + 4))
        }
        if configuration.recentre { RealSpaceConstraints.recentre(&map, box: box, fftwThreads: 1) }
        return FourierVolume(map: map, grid: grid, fftwThreads: 1)
    }

    /// The current map (real space, `box³`).
    func map() -> [Float] { volume.map(fftwThreads: 1) }
}
