import DuetComm
import DuetCore
import DuetKernels
import Foundation

/// What the ab-initio reconstruction learned about one particle: its most probable pose, the effective number of
/// poses sharing its posterior (1 = certain), the image's contrast scale, normalised correlation (`PoseQuality`) and
/// residual hotspot (`ResidualHotspot`) at that pose, and the last iteration that saw it (0-based; nil: never, an unused particle; the final pose
/// pass of `duet refine` counts as the last iteration, whose map it searches).
public struct ParticleAssignment: Sendable, Equatable {
    public var pose: Pose?
    public var effectiveSampleSize: Double
    public var scale: Double = 1
    public var correlation: Double = 0
    public var residualHotspot: Double = 1
    public var lastIteration: Int?

    static let unseen = ParticleAssignment(pose: nil, effectiveSampleSize: 0, lastIteration: nil)

    /// The statistics of the pose as files record them (last iteration 1-based), with the quality `scoring`
    /// gives; nil for an unseen particle.
    func statistics(scoredBy scoring: QualityScoring) -> PoseStatistics? {
        guard pose != nil, let lastIteration else { return nil }
        return PoseStatistics(effectiveSampleSize: effectiveSampleSize, lastIteration: lastIteration + 1,
                              scale: scale, correlation: correlation, residualHotspot: residualHotspot,
                              quality: scoring.score(correlation: correlation, residualHotspot: residualHotspot))
    }
}

extension [ParticleAssignment] {
    /// The quality scoring of a run whose particles these are (the seen ones count).
    var qualityScoring: QualityScoring {
        let seen = filter { $0.pose != nil }
        return QualityScoring(correlations: seen.map(\.correlation), hotspots: seen.map(\.residualHotspot))
    }
}

/// How an image fits the map at its best pose (`PoseQuality`, `ResidualHotspot`).
struct ImageFit {
    var correlation: Double
    var residualHotspot: Double
}

/// One SGD iteration as the log reports it.
struct IterationSummary {
    var iteration: Int
    var resolution_A: Double
    var minibatch: Int
    var meanESS: Double
}

/// Stochastic-gradient ab-initio reconstruction of one particle set from a random start (docs/design.md §2, after
/// Punjani et al. 2017), on the ranks of one communicator. Each iteration draws a minibatch, infers each image's
/// posterior over rotations × shifts under the per-shell noise model (`CoarseToFineSearch`), takes a
/// preconditioned gradient step on the Fourier volume (`V ← V − lr · g / (H + λ)`, `g` and the diagonal curvature
/// `H` from `DataTerm`, `λ` 1 % of the mean curvature), applies the real-space constraints (non-negativity, soft
/// window, re-centring) and updates the noise model from the residuals at the best poses. The Fourier radius rises
/// linearly from `initialResolution_A` to `maximumResolution_A` over the initial iterations, so cost follows
/// resolution.
///
/// Distribution (docs/design.md §4): particle `i` of the set belongs to rank `i mod size` (`ParticleShard`), which alone
/// reads, searches and back-projects it. Every rank draws the same minibatches from the same generator and applies
/// the same update. Every sum over ranks is exact — the gradient in fixed point (`ExactBackProjector`), per-image
/// statistics as disjoint rows (`sumDisjointRows`) — so the volume is bit-identical at any rank and thread count.
final class AbinitEngine {
    let configuration: AbinitConfiguration
    let communicator: Communicator
    /// The ranks that agree on an image that cannot be read (`images(_:)`): the engine's communicator, or the world
    /// when each of its ranks runs one engine per half it serves, each waiting for its images at the same points.
    private let agreement: Communicator
    /// Where the stages of each iteration are timed (pose search, back-projection, update).
    let times: StageTimes
    let shard: ParticleShard
    /// The images this rank owns: image `s` is particle `shard.index(ofSlot: s)` of the set.
    let data: PreparedParticles
    var volume: FourierVolume
    /// Per shard slot.
    var assignments: [ParticleAssignment]
    var noise: NoiseModel
    var generator: SeededGenerator
    /// Particle order from which minibatches are drawn (a partial Fisher–Yates shuffle per iteration).
    var order: [Int]
    /// The next iteration to run.
    var iteration = 0
    private let grid: FourierGrid
    /// The real-space constraints' workspace for the current cropped box.
    private var realSpace: CroppedRealSpace?
    /// The minibatch gradient, with the memory the next iteration reuses.
    private let gradient = MinibatchGradient()
    private let diameter_px: Double
    private let maxRadius_px: Int
    /// The pose search's high-pass radius (image Fourier pixels).
    private let minAlignmentRadius_px: Double
    let symmetry: SymmetryGroup
    /// The starting noise σ as a multiple of the images' own power: `noiseInitialSigmaScale` or its tuned value.
    private(set) var initialSigmaScale = 1.0
    /// Images per minibatch after the switch (`AbinitConfiguration.finalMinibatch(diameter_A:symmetryOrder:)`).
    let finalMinibatch: Int

    /// - Parameters:
    ///   - particleCount: particles in the whole set (over all ranks).
    ///   - stream: the random stream of this set (a different one per half-set).
    ///   - agreement: the ranks that agree on an image that cannot be read (default: `communicator`).
    init(configuration: AbinitConfiguration, data: PreparedParticles, shard: ParticleShard, stream: UInt64,
         communicator: Communicator, agreement: Communicator? = nil, times: StageTimes = StageTimes()) throws {
        self.configuration = configuration
        self.times = times
        self.data = data
        self.shard = shard
        self.communicator = communicator
        self.agreement = agreement ?? communicator
        let box = data.box
        diameter_px = configuration.particleDiameter_px(box: box, pixelSize_A: data.pixelSize_A)
        minAlignmentRadius_px = configuration.minimumAlignmentRadius_px(box: box, pixelSize_A: data.pixelSize_A)
        symmetry = try configuration.symmetryGroup()
        finalMinibatch = configuration.finalMinibatch(diameter_A: diameter_px * data.pixelSize_A,
                                                      symmetryOrder: symmetry.order)
        let nyquistRadius = box / 2 - 1
        maxRadius_px = configuration.maximumResolution_A.map {
            min(nyquistRadius, Int((Double(box) * data.pixelSize_A / $0).rounded()))
        } ?? nyquistRadius
        grid = FourierGrid(box: box, maxRadius_px: maxRadius_px)
        generator = SeededGenerator(seed: configuration.seed, stream: stream)
        assignments = Array(repeating: .unseen, count: data.particles.count)
        order = Array(0..<shard.particleCount)
        let noiseSampleCount = min(shard.particleCount, 500)
        try Self.waitForImages((0..<noiseSampleCount).filter(shard.owns).map(shard.slot(of:)), of: data,
                               agreedOver: agreement ?? communicator, times: times)
        noise = try NoiseModel(particles: data, shard: shard, sampleCount: noiseSampleCount,
                               sigmaScale: 1, priorWeight: configuration.noisePriorWeight,
                               kind: configuration.noiseModel, communicator: communicator)
        volume = Self.randomStart(box: box, diameter_px: diameter_px, grid: grid, symmetry: symmetry,
                                  generator: &generator)
        data.prioritise(slotsInOrderOfUse())
        initialSigmaScale = try configuration.noiseInitialSigmaScale ?? tunedSigmaScale()
        let s2 = initialSigmaScale * initialSigmaScale
        noise.variance = noise.variance.scaled(by: s2)
    }

    /// `NoiseScaleTuning` on the first initial minibatch's worth of particles of the set against the random start
    /// (collective; the same on any rank count).
    private func tunedSigmaScale() throws -> Double {
        let sampleCount = min(shard.particleCount, max(1, configuration.initialMinibatch))
        let positions = (0..<sampleCount).filter { shard.owns($0) }
        let batch = try images(positions.map { shard.slot(of: $0) })
        return try NoiseScaleTuning(targetFraction: configuration.targetESSFraction)
            .sigmaScale(search: poseSearch(radius_px: radius(iteration: 0)), volume: volume, batch: batch,
                        positions: positions, sampleCount: sampleCount, baseVariance: noise.variance,
                        communicator: communicator)
    }

    /// Fourier radius (image pixels) of iteration `t`.
    func radius(iteration t: Int) -> Int {
        let r0 = min(maxRadius_px, max(3, Int((Double(data.box) * data.pixelSize_A / configuration.initialResolution_A).rounded())))
        let progress = min(1, Double(t) / Double(max(1, configuration.initialIterations)))
        return r0 + Int((Double(maxRadius_px - r0) * progress).rounded())
    }

    /// Runs the next iteration (collective over the communicator).
    func iterate() throws -> IterationSummary {
        let t = iteration
        let r = radius(iteration: t)
        let minibatch = Self.drawMinibatch(size: minibatchSize(iteration: t), order: &order, generator: &generator)
        let meanESS = try step(iteration: t, radius: r, minibatch: minibatch)
        iteration += 1
        return IterationSummary(iteration: t, resolution_A: Double(data.box) * data.pixelSize_A / Double(r),
                                minibatch: minibatch.count, meanESS: meanESS)
    }

    /// Images in the minibatch of iteration `t` (over all ranks).
    private func minibatchSize(iteration t: Int) -> Int {
        min(shard.particleCount, t < configuration.minibatchSwitchIteration ? configuration.initialMinibatch : finalMinibatch)
    }

    /// The next minibatch, sorted: the first `size` particles of `order` after a partial Fisher–Yates shuffle.
    private static func drawMinibatch(size: Int, order: inout [Int], generator: inout SeededGenerator) -> [Int] {
        for i in 0..<size {
            order.swapAt(i, i + Int(generator.next() % UInt64(order.count - i)))
        }
        return order.prefix(size).sorted()
    }

    /// This rank's slots in the order the run will first use them: the noise-scale tuning's sample (when tuned),
    /// then the members of each remaining iteration's minibatch, drawn ahead of time from copies of the generator
    /// and the order. The other slots, read only by the final pose assignment, follow (`PreparedParticles.prioritise`).
    func slotsInOrderOfUse() -> [Int] {
        var listed = [Bool](repeating: false, count: data.particles.count)
        var slots = [Int]()
        func use(_ index: Int) {
            guard shard.owns(index), !listed[shard.slot(of: index)] else { return }
            listed[shard.slot(of: index)] = true
            slots.append(shard.slot(of: index))
        }
        if iteration == 0 && configuration.noiseInitialSigmaScale == nil {
            (0..<min(shard.particleCount, max(1, configuration.initialMinibatch))).forEach(use)
        }
        var futureOrder = order, futureGenerator = generator
        for t in iteration..<configuration.iterations {
            Self.drawMinibatch(size: minibatchSize(iteration: t), order: &futureOrder, generator: &futureGenerator)
                .forEach(use)
        }
        return slots
    }

    /// The prepared images of `slots` once they are read (`waitForImages`).
    private func images(_ slots: [Int]) throws -> PoseImageBatch {
        try Self.waitForImages(slots, of: data, agreedOver: agreement, times: times)
        return data.images.subset(slots)
    }

    /// Returns once `data`'s images of `slots` are read, agreed over `agreement` (collective there, before any other
    /// collective call of the step that uses them): an image that cannot be read stops every rank with one message.
    /// The time spent waiting counts as I/O.
    private static func waitForImages(_ slots: [Int], of data: PreparedParticles, agreedOver agreement: Communicator,
                                      times: StageTimes) throws {
        try times.measure(.io) { try agreement.agreeing { try data.wait(for: slots) } }
    }

    /// One SGD iteration; returns the mean effective sample size of the minibatch's posteriors.
    private func step(iteration t: Int, radius r: Int, minibatch: [Int]) throws -> Double {
        // The minibatch members this rank owns: their position in the minibatch and their shard slot.
        let mine = minibatch.indices.filter { shard.owns(minibatch[$0]) }
        let slots = mine.map { shard.slot(of: minibatch[$0]) }
        let batch = try images(slots)
        let search = poseSearch(radius_px: r)
        let posteriors = times.measure(.poseSearch) {
            search.search(volume: volume, batch: batch, noiseVariance: noise.variance)
        }
        var essRows = [Double](repeating: 0, count: minibatch.count)
        var scaleRows = [Double](repeating: 0, count: minibatch.count)
        for (position, posterior) in zip(mine, posteriors) {
            essRows[position] = posterior.ess
            scaleRows[position] = posterior.poses[0].scale
        }
        let essSum = try communicator.sumDisjointRows(essRows, rowLength: 1)[0]
        try communicator.allreduceSum(&scaleRows)   // exact: each row is nonzero on one rank only
        let poses = relativeScales(posteriors.map(\.poses), minibatchScales: scaleRows)
        let fits = fitsAtBestPoses(batch: batch, poses: poses, radius_px: r)
        for (((slot, posterior), imagePoses), fit) in zip(zip(zip(slots, posteriors), poses), fits) {
            assignments[slot] = assignment((imagePoses, posterior.ess), fit: fit, iteration: t)
        }
        try times.measure(.update) {
            try updateNoise(batch: batch, poses: poses, positions: mine, minibatchCount: minibatch.count, radius: r)
        }
        let summed = try times.measure(.backProjection) {
            try gradient.accumulate(volume: volume, batch: batch, poses: poses.map(symmetryExpanded),
                                    noiseVariance: noise.variance, radius_px: r, grid: grid,
                                    threads: configuration.threads, communicator: communicator)
        }
        try times.measure(.update) { try takeStep(summed, iteration: t, radius_px: r) }
        return essSum / Double(max(1, minibatch.count))
    }

    /// The poses with their contrast scales divided by the median best-pose scale of the whole minibatch, so that
    /// a typical image has scale 1: the gradient then ties the map's own scale to the data (a scale fitted freely
    /// at each pose leaves it undetermined). Unchanged without per-image scales or when most scales are 0.
    private func relativeScales(_ poses: [[WeightedPose]], minibatchScales: [Double]) -> [[WeightedPose]] {
        guard configuration.perImageScale, let median = minibatchScales.median, median > 1e-6 else { return poses }
        return poses.map { $0.map { var pose = $0; pose.scale /= median; return pose } }
    }

    /// An image's poses at every equivalent rotation of the point group, each with the pose's weight: the gradient
    /// and curvature of the symmetric map, so a symmetric map stays symmetric. Unchanged for C1.
    private func symmetryExpanded(_ imagePoses: [WeightedPose]) -> [WeightedPose] {
        guard symmetry.order > 1 else { return imagePoses }
        return imagePoses.flatMap { pose in
            symmetry.equivalents(of: pose.rotation).map { var copy = pose; copy.rotation = $0; return copy }
        }
    }

    /// The preconditioned step `V ← V − lr · g / (H + λ)` and the real-space constraints. Each rank steps the
    /// z-planes whose sums it holds, then the ranks exchange the stepped planes (collective).
    private func takeStep(_ gradient: SummedGradient, iteration t: Int, radius_px r: Int) throws {
        let learningRate = t < configuration.highLearningRateIterations ? configuration.initialLearningRate
                                                                         : configuration.learningRate
        let accumulator = gradient.accumulator, mine = gradient.ownPlanes
        // Sums per z-plane, added in plane order: the same damping at any thread and rank count.
        var planeSums = [Double](repeating: 0, count: 2 * accumulator.planeCount)
        planeSums.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let sums = buffer.baseAddress
            accumulator.forEachCellInParallel(planes: mine, threads: configuration.threads) { plane, _, _, weight in
                sums?[2 * plane] += weight
                sums?[2 * plane + 1] += 1
            }
        }
        let total = try communicator.sumDisjointRows(planeSums, rowLength: 2)
        let damping = total[1] > 0 ? 0.01 * total[0] / total[1] : 1
        nonisolated(unsafe) let data = volume.data.baseAddress
        withExtendedLifetime(volume) {
            accumulator.forEachCellInParallel(planes: mine, threads: configuration.threads) { _, i, numerator, weight in
                data[i] -= SIMD2<Float>(learningRate * numerator / (weight + damping))
            }
        }
        try shareSteppedPlanes(gradient)
        try applyConstraints(radius_px: r)
    }

    /// Every rank's stepped z-planes of the volume (their reached cells: nothing else changed) go to the other ranks
    /// of its half, through the accumulator's memory (its sums are spent); nothing to do on one rank.
    private func shareSteppedPlanes(_ gradient: SummedGradient) throws {
        guard communicator.size > 1 else { return }
        let accumulator = gradient.accumulator, data = volume.data.baseAddress
        let counts = gradient.shares.map { accumulator.reachedCells(planes: $0) }
        try accumulator.withSpentCells { packed in
            accumulator.copyReached(planes: gradient.ownPlanes, volume: data, packed: packed, toVolume: false)
            try communicator.allgather(packed, counts: counts)
            for (rank, planes) in gradient.shares.enumerated() where rank != gradient.rank {
                accumulator.copyReached(planes: planes, volume: data, packed: packed, toVolume: true)
            }
        }
    }

    /// The pose search at Fourier radius `r` with this run's settings.
    private func poseSearch(radius_px r: Int, oversampling: Int = 1) -> CoarseToFineSearch {
        CoarseToFineSearch(box: data.box, diameter_px: diameter_px, radius_px: r,
                           coarseRadius_px: configuration.coarseSearchRadius_px,
                           maxShift_px: configuration.maxShift_px(box: data.box), minRadius_px: minAlignmentRadius_px,
                           scalePriorPrecision: scalePriorPrecision, symmetry: symmetry,
                           maxModes: configuration.poseSearchModes, oversampling: oversampling,
                           threads: configuration.threads)
    }

    /// Angular oversampling of the searches that set the final poses (the final pose pass and the refinement
    /// rounds; `CoarseToFineSearch.oversampling`). Measured on `messy` (README): with posterior-mean poses, 2 took
    /// the median error from 5.76° to 5.42° and the map against the truth from 8.18 to 7.83 Å.
    static let finalOversampling = 2

    /// `κ = 1/σ²` of the per-image scale prior; nil without per-image scales.
    private var scalePriorPrecision: Double? {
        configuration.perImageScale ? 1 / (configuration.scalePriorSigma * configuration.scalePriorSigma) : nil
    }

    /// The assignment a posterior gives: the posterior mean of its best mode (`PosteriorMean`; shift as RELION's
    /// origin, in Å) with its scale, its fit to the map and its ESS.
    private func assignment(_ posterior: (poses: [WeightedPose], ess: Double), fit: ImageFit,
                            iteration t: Int) -> ParticleAssignment {
        let mean = PosteriorMean.ofBestMode(posterior.poses)
        return ParticleAssignment(pose: Pose(rotation: mean.rotation, shiftX_A: -mean.shift_px.x * data.pixelSize_A,
                                             shiftY_A: -mean.shift_px.y * data.pixelSize_A),
                                  effectiveSampleSize: posterior.ess, scale: mean.scale, correlation: fit.correlation,
                                  residualHotspot: fit.residualHotspot,
                                  lastIteration: t)
    }

    /// How each image of `batch` fits the map at its best pose: `PoseQuality`'s normalised correlation over the
    /// radii of the pose search and `ResidualHotspot` over the band to `hotspotResolution_A`.
    private func fitsAtBestPoses(batch: PoseImageBatch, poses: [[WeightedPose]], radius_px r: Int) -> [ImageFit] {
        let quality = PoseQuality(box: data.box, radius_px: r, minRadius_px: min(minAlignmentRadius_px, Double(r) / 2),
                                  noiseVariance: noise.variance)
        let bandRadius_px = min(r, max(1, Int(Double(data.box) * data.pixelSize_A / Self.hotspotResolution_A)))
        let halfWindow_px = max(1, Int(((Self.hotspotWindow_A / data.pixelSize_A - 1) / 2).rounded()))
        let window_px = min(data.box, 2 * halfWindow_px + 1)
        let workers = min(max(1, poses.count), max(1, configuration.threads ?? ParallelFor.defaultThreads))
        let slices = (0..<workers).map { _ in AlignedBuffer<SIMD2<Float>>(count: data.complexCount) }
        let hotspots = (0..<workers).map { _ in
            ResidualHotspot(box: data.box, radius_px: bandRadius_px, window_px: window_px,
                            noiseVariance: noise.variance)
        }
        let fits = AlignedBuffer<SIMD2<Double>>(count: poses.count)
        let volume = volume
        nonisolated(unsafe) let hotspotList = hotspots, out = fits.baseAddress
        withExtendedLifetime((slices, hotspots, fits)) {
            ParallelFor.runPerWorker(count: poses.count, workers: workers) { worker, range in
                let slice = slices[worker].baseAddress, hotspot = hotspotList[worker]
                for slot in range {
                    guard let best = poses[slot].first else { out[slot] = SIMD2(0, 1); continue }
                    volume.project(rotation: best.rotation, translation_px: best.shift_px, radius_px: r, into: slice)
                    let image = batch.spectrum(slot), ctf = batch.ctf(slot)
                    out[slot] = SIMD2(quality.normalisedCorrelation(image: image, ctf: ctf, projection: slice),
                                      hotspot.ratio(image: image, ctf: ctf, projection: slice))
                }
            }
        }
        return fits.toArray().map { ImageFit(correlation: $0.x, residualHotspot: $0.y) }
    }

    /// The residual hotspot's band and window (`ResidualHotspot`): the scale of a particle's low-resolution
    /// density. Measured offline on `messy` (README, "Quality score"): bands of 19–24 Å and windows of 18–42 Å
    /// gave overlap AUCs within 0.02 of each other.
    static let hotspotResolution_A = 20.0
    static let hotspotWindow_A = 30.0

    /// Infers every particle's pose against the current volume at the last iteration's radius, without updating
    /// anything else, so that a final reconstruction uses poses from the finished map rather than from the
    /// iteration that last drew each particle.
    func assignFinalPoses() throws {
        try assignPoses(slots: Array(assignments.indices), radius_px: radius(iteration: max(0, iteration - 1)), local: false,
                    oversampling: Self.finalOversampling)
    }

    /// Replaces the volume by `map` (real space, `box³`) under the SGD's soft spherical window, then infers the
    /// pose of every particle against it at Fourier radius `r` (a refinement round of `duet refine`): over all poses
    /// (`local` false) or near each particle's current pose only (`CoarseToFineSearch.searchLocally`).
    func assignPoses(against map: [Float], radius_px r: Int, local: Bool) throws {
        var windowed = map
        RealSpaceConstraints.applySphericalWindow(&windowed, box: data.box, innerRadius_px: diameter_px / 2,
                                                  outerRadius_px: min(Double(data.box) / 2, diameter_px / 2 + 4))
        volume = FourierVolume(map: windowed, grid: grid, fftwThreads: 1)
        try assignPoses(slots: Array(assignments.indices), radius_px: min(r, maxRadius_px), local: local,
                    oversampling: Self.finalOversampling)
    }

    /// The posteriors of the particles in shard `slots` against the current volume at radius `r`, local to this
    /// rank's shard (each image's posterior depends only on the image, the volume and the noise model); the
    /// assignments record the last iteration.
    private func assignPoses(slots allSlots: [Int], radius_px r: Int, local: Bool, oversampling: Int,
                             batchSize: Int = 300) throws {
        let last = max(0, iteration - 1)
        let search = poseSearch(radius_px: r, oversampling: oversampling)
        for start in stride(from: 0, to: allSlots.count, by: batchSize) {
            let slots = Array(allSlots[start..<min(start + batchSize, allSlots.count)])
            // Not agreed: ranks hold different numbers of batches. The jobs wait for every image first.
            let batch = try times.measure(.io) { try data.batch(slots) }
            let posteriors = times.measure(.poseSearch) {
                guard local else { return search.search(volume: volume, batch: batch, noiseVariance: noise.variance) }
                let current = slots.map { slot in
                    let pose = assignments[slot].pose ?? Pose(rotation: .identity, shiftX_A: 0, shiftY_A: 0)
                    return (pose.rotation, SIMD2(-pose.shiftX_A, -pose.shiftY_A) / data.pixelSize_A)
                }
                return search.searchLocally(volume: volume, batch: batch, around: current, noiseVariance: noise.variance)
            }
            let fits = fitsAtBestPoses(batch: batch, poses: posteriors.map(\.poses), radius_px: r)
            for ((slot, posterior), fit) in zip(zip(slots, posteriors), fits) {
                assignments[slot] = assignment(posterior, fit: fit, iteration: last)
            }
        }
    }

    /// The noise model follows the residual power at each image's best pose; each rank fills the rows of the
    /// minibatch positions it owns.
    private func updateNoise(batch: PoseImageBatch, poses: [[WeightedPose]], positions: [Int], minibatchCount: Int,
                             radius r: Int) throws {
        let box = data.box
        // Each image's residual power, per shell in its own row (exact sums over ranks), or per coefficient in
        // fixed point (`.coloured`).
        let coloured = noise.kind == .coloured
        let rowBuffer = AlignedBuffer<Double>(count: coloured ? 0 : minibatchCount * box)
        let workers = min(max(1, poses.count), max(1, configuration.threads ?? ParallelFor.defaultThreads))
        let slices = (0..<workers).map { _ in AlignedBuffer<SIMD2<Float>>(count: data.complexCount) }
        let workerSums = (0..<(coloured ? workers : 0)).map { _ in AlignedBuffer<Int64>(count: data.complexCount) }
        let variances = noise.variance.values, complexCount = data.complexCount, volume = volume
        nonisolated(unsafe) let rowBase = rowBuffer.baseAddress
        withExtendedLifetime((slices, workerSums, rowBuffer)) {
            ParallelFor.runPerWorker(count: poses.count, workers: workers) { worker, range in
                let slice = slices[worker].baseAddress
                for slot in range {
                    guard let best = poses[slot].first else { continue }
                    volume.project(rotation: best.rotation, translation_px: best.shift_px, radius_px: r, into: slice)
                    let x = batch.spectrum(slot), c = batch.ctf(slot)
                    let row = positions[slot] * box, scale = Float(best.scale)
                    NoiseModel.forEachCoefficient(box: box, radius_px: r) { k, shell in
                        let residual = SIMD2<Double>(x[k] - scale * c[k] * slice[k])
                        let power = (residual * residual).sum() / 2
                        if coloured {
                            workerSums[worker][k] += NoiseModel.fixedPoint(power, unit: variances[k])
                        } else {
                            rowBase[row + shell] += power
                        }
                    }
                }
            }
        }
        // Integer sums: the same whichever worker saw which image.
        var sums = coloured ? [Int64](repeating: 0, count: complexCount) : []
        for part in workerSums { for k in sums.indices { sums[k] += part[k] } }
        let rows = rowBuffer.toArray()
        if sums.isEmpty {
            var counts = [Double](repeating: 0, count: box)
            NoiseModel.forEachCoefficient(box: box, radius_px: r) { _, shell in counts[shell] += Double(minibatchCount) }
            noise.update(residualPower: try communicator.sumDisjointRows(rows, rowLength: box), counts: counts)
        } else {
            try communicator.allreduceSum(&sums)
            noise.update(residualSums: sums, imageCount: minibatchCount, radius_px: r)
        }
    }

    /// A random volume from the seed, low-passed to Fourier radius 7, made symmetric under the point group and
    /// non-negative (CryoSPARC's start); drawn on the cropped box that radius needs (`CroppedRealSpace`).
    private static func randomStart(box: Int, diameter_px: Double, grid: FourierGrid, symmetry: SymmetryGroup,
                                    generator: inout SeededGenerator) -> FourierVolume {
        let startRadius = min(7, grid.maxRadius_px)
        let space = CroppedRealSpace(box: CroppedRealSpace.box(atLeast: 2 * (startRadius + 8), volumeBox: box))
        let b = space.box, toCropped = Double(b) / Double(box)
        for i in 0..<space.map.count { space.map[i] = Float(generator.nextGaussian()) }
        RealSpaceConstraints.applySphericalWindow(space.map.buffer, box: b,
                                                  innerRadius_px: (diameter_px / 2 - 2) * toCropped,
                                                  outerRadius_px: (diameter_px / 2 + 2) * toCropped)
        let lowPassed = FourierVolume(grid: FourierGrid(box: box, maxRadius_px: startRadius))
        space.store(into: lowPassed)
        space.load(from: lowPassed)
        var map = MapSymmetrizer.symmetrised(space.map.toArray(), box: b, group: symmetry)
        _ = RealSpaceConstraints.clampNegative(&map)
        map.withUnsafeBufferPointer { space.map.baseAddress.update(from: $0.baseAddress!, count: map.count) }
        let volume = FourierVolume(grid: grid)
        space.store(into: volume)
        return volume
    }

    /// The real-space constraints — non-negativity, a soft spherical window at the particle diameter, re-centring
    /// — on the map cropped to the box radius `r` needs (`CroppedRealSpace`; the volume keeps nothing beyond that
    /// box's band), in place. The ranks of the half divide the work: each transforms its share of the planes and
    /// constrains its z-slab of the map, the centre of mass is summed plane by plane, and every rank ends with the
    /// whole volume (collective; the same volume at any rank count).
    private func applyConstraints(radius_px r: Int) throws {
        let space = croppedRealSpace(radius_px: r)
        let b = space.box, map = space.map.buffer, threads = configuration.threads
        let toCropped = Double(b) / Double(data.box)
        let share = RankShare(rank: communicator.rank, size: communicator.size)
        let communicator = communicator
        let exchange: SegmentExchange<SIMD2<Float>> = { try communicator.allgather($0, counts: $1) }
        let transpose: BlockTranspose = {
            try communicator.transpose($0, into: $1, rows: $2, columns: $3, tupleLength: $4, rowBlock: $5, columnBlock: $6)
        }
        let slab = share.zSlab(box: b)
        try space.load(from: volume, share: share, transpose: transpose)
        if configuration.enforceNonNegativity {
            let slabVoxels = map[(slab.lowerBound * b * b)..<(slab.upperBound * b * b)]
            _ = RealSpaceConstraints.clampNegative(UnsafeMutableBufferPointer(rebasing: slabVoxels))
        }
        if configuration.window {
            let outer_px = min(Double(b) / 2, (diameter_px / 2 + 4) * toCropped)
            RealSpaceConstraints.applySphericalWindow(map, box: b, innerRadius_px: diameter_px / 2 * toCropped,
                                                      outerRadius_px: outer_px, planes: slab, threads: threads)
        }
        var shift = SIMD3<Double>.zero
        if configuration.recentre {
            // Each plane's sums are nonzero on the rank that holds it only: the allreduce is exact.
            var planeSums = RealSpaceConstraints.centreOfMassPlaneSums(UnsafeBufferPointer(map), box: b, planes: slab,
                                                                       threads: threads)
            if share.size > 1 { try communicator.allreduceSum(&planeSums) }
            if let centre = RealSpaceConstraints.centreOfMass(planeSums: planeSums) {
                shift = SIMD3(repeating: Double(b / 2)) - centre
            }
        }
        try space.store(into: volume, shift_px: shift, share: share, transpose: transpose, exchange: exchange)
    }

    /// The cropped real space for radius `r`: a box of at least `2(r + max(8, r/4))` (the band the next
    /// iterations search, with room for what the constraints add above it), made once per box.
    private func croppedRealSpace(radius_px r: Int) -> CroppedRealSpace {
        let b = CroppedRealSpace.box(atLeast: 2 * (r + max(8, r / 4)), volumeBox: data.box)
        if let cached = realSpace, cached.box == b { return cached }
        realSpace = nil   // its memory goes before the new one's comes
        let space = CroppedRealSpace(box: b, threads: configuration.threads)
        realSpace = space
        return space
    }

    /// The current map (real space, `box³`): the cropped map of the largest radius, Fourier-padded to the box.
    func map() -> [Float] {
        let space = croppedRealSpace(radius_px: maxRadius_px)
        space.load(from: volume)
        return space.uncropped(volumeBox: data.box)
    }

    /// Moves this half-set into another frame: the volume is resampled by `transform` (on the map cropped to the
    /// next iteration's box) and every pose follows, so that each particle's projection is unchanged
    /// (docs/design.md §3, half B onto half A).
    func apply(_ transform: MapTransform) {
        let space = croppedRealSpace(radius_px: radius(iteration: iteration))
        space.load(from: volume)
        var cropped = transform
        cropped.translation_px *= Double(space.box) / Double(data.box)
        let moved = cropped.apply(to: space.map.toArray(), box: space.box, threads: configuration.threads)
        moved.withUnsafeBufferPointer { space.map.baseAddress.update(from: $0.baseAddress!, count: moved.count) }
        space.store(into: volume)
        for slot in assignments.indices {
            assignments[slot].pose = assignments[slot].pose.map { transform.apply(to: $0, pixelSize_A: data.pixelSize_A) }
        }
    }

    /// The volume's storage (`FourierGrid` layout), real and imaginary parts interleaved.
    func volumeStorage() -> [Float] {
        UnsafeRawBufferPointer(volume.data.buffer).withMemoryRebound(to: Float.self) { Array($0) }
    }

    /// Replaces the volume's storage by `values` (as `volumeStorage()` returns it). A checkpoint written before the
    /// volume was stored to its largest radius only (the whole box's grid) gives the coefficients this grid holds.
    func setVolumeStorage(_ values: [Float]) throws {
        let whole = FourierGrid(box: data.box)
        if values.count == 2 * whole.count && whole.count != grid.count {
            let h = grid.halfExtent
            for z in -h...h {
                for y in -h...h {
                    for x in 0...h {
                        let i = whole.index(x: x, y: y, z: z)
                        volume.data[grid.index(x: x, y: y, z: z)] = SIMD2(values[2 * i], values[2 * i + 1])
                    }
                }
            }
            return
        }
        guard values.count == 2 * grid.count else {
            throw DuetError("checkpoint volume has the wrong size (written by another version of duet?)")
        }
        values.withUnsafeBytes { UnsafeMutableRawBufferPointer(volume.data.buffer).copyMemory(from: $0) }
    }
}
