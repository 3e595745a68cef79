import DuetCore
import DuetKernels
import Foundation

/// Coarse-to-fine pose inference for a minibatch (docs/design.md §2): the posterior over a global `SO3Grid` × an
/// integer shift grid is scored on the low frequencies only (`coarseRadius_px`, where it is cheap and the whole
/// minibatch shares each projected slice), then each image is refined at the full radius on local rotation grids
/// that halve the angular step at every level until it reaches the step the resolution needs, with ±1 px then
/// ±0.5 px of shift at 0.5 px steps. Each level refines up to `maxModes` separate modes of the previous level's
/// posterior (poses at least two level steps apart whose weight is at least `modeThreshold` of the best), not only
/// the best pose, so an ambiguous image keeps every plausible orientation in its posterior instead of being
/// committed to one neighbourhood (the branch-and-bound idea of CryoSPARC's search). The returned posterior is the
/// last level's (scored at the full radius), merged over its modes by log-likelihood.
///
/// Shifts: the global level searches the disc `|t| ≤ maxShift_px` on a grid of step `globalShiftStep_px`, as coarse
/// as the coarse radius allows (a fifth of a period at `coarseRadius_px`), so a search tied to the box costs a few
/// times a ±3 px search, not in proportion to the area; the first local level covers the gap between grid points.
/// Every level ignores the coefficients below `minRadius_px` (the minimum alignment resolution, at most half the
/// coarse radius; 1 ignores the DC term alone), and with `scalePriorPrecision` each pose carries the image's best
/// contrast scale (`PosePosteriorKernel`).
struct CoarseToFineSearch {
    /// Angular step (degrees) the current resolution needs: one Fourier pixel of arc at the particle's edge.
    let neededStep_deg: Double
    /// The last local levels go on below `neededStep_deg` down to `neededStep_deg / oversampling`, their shift
    /// steps shrinking alike (a finer final grid where poses are inferred once, not in every SGD iteration).
    let oversampling: Int
    let radius_px: Int
    let coarseRadius_px: Int
    let maxShift_px: Int
    /// Step of the global shift grid, pixels.
    let globalShiftStep_px: Double
    let minRadius_px: Double
    let scalePriorPrecision: Double?
    /// The particle's point group: the global level searches one asymmetric unit.
    let symmetry: SymmetryGroup
    let maxModes: Int
    let threads: Int?
    /// A pose starts a new mode when its weight is at least this fraction of the best pose's.
    static let modeThreshold = 0.05
    /// Poses below this fraction of the best pose's weight are dropped from a merged posterior.
    static let relativeThreshold = 1e-4
    /// Images scored together at the global level.
    static let globalChunk = 32

    init(box: Int, diameter_px: Double, radius_px: Int, coarseRadius_px: Int, maxShift_px: Int, minRadius_px: Double,
         scalePriorPrecision: Double?, symmetry: SymmetryGroup = .c1, maxModes: Int, oversampling: Int = 1,
         threads: Int?) {
        neededStep_deg = min(30, (Double(box) / max(diameter_px, 1) / Double(radius_px)) * 180 / .pi)
        precondition(oversampling >= 1, "CoarseToFineSearch: oversampling ≥ 1")
        self.oversampling = oversampling
        self.radius_px = radius_px
        self.coarseRadius_px = min(radius_px, coarseRadius_px)
        self.maxShift_px = maxShift_px
        globalShiftStep_px = max(1, Double(box) / (5 * Double(self.coarseRadius_px)))
        // Early, at a radius of a few pixels, the high-pass keeps at least the outer half of the coarse disc.
        self.minRadius_px = min(minRadius_px, Double(self.coarseRadius_px) / 2)
        self.scalePriorPrecision = scalePriorPrecision
        self.symmetry = symmetry
        precondition(maxModes >= 1, "CoarseToFineSearch: at least one mode")
        self.maxModes = maxModes
        self.threads = threads
    }

    /// The global rotation grid: HEALPix order 2 (7.5°) once the needed step is below 15°, else order 1.
    private var globalGrid: SO3Grid { SO3Grid(order: neededStep_deg < 15 ? 2 : 1) }

    /// The global level's shifts: the disc of radius `maxShift_px` at step `globalShiftStep_px`.
    private var globalShifts: [SIMD2<Double>] { Self.shiftDisc(radius: Double(maxShift_px), step: globalShiftStep_px) }

    /// For each image of `batch`, the fraction of the global level's poses (one asymmetric unit × the shift disc)
    /// that its posterior spreads over: effective sample size / number of poses scored.
    func globalESSFractions(volume: FourierVolume, batch: PoseImageBatch, noiseVariance: NoiseSpectrum) -> [Double] {
        let settings = PoseSearchSettings(radius_px: coarseRadius_px, minRadius_px: minRadius_px,
                                          relativeThreshold: Self.modeThreshold, threads: threads,
                                          scalePriorPrecision: scalePriorPrecision)
        return PosePosteriorKernel.posteriors(volume: volume, images: batch,
                                              rotations: symmetry.asymmetricUnit(of: globalGrid.rotations),
                                              shifts_px: globalShifts, noiseVariance: noiseVariance, settings: settings)
            .map { $0.effectiveSampleSize / Double($0.evaluatedPoseCount) }
    }

    /// The posterior of each image of `batch`, as poses with weights (best first), and its effective sample size.
    func search(volume: FourierVolume, batch: PoseImageBatch, noiseVariance: NoiseSpectrum) -> [(poses: [WeightedPose], ess: Double)] {
        let globalGrid = globalGrid
        let globalRotations = symmetry.asymmetricUnit(of: globalGrid.rotations)
        let globalShifts = globalShifts
        let needsRefinement = neededStep_deg / Double(oversampling) < globalGrid.step_deg || coarseRadius_px < radius_px
        // When the global level only seeds the refinement, poses below the mode threshold are never used.
        let globalSettings = PoseSearchSettings(radius_px: coarseRadius_px, minRadius_px: minRadius_px,
                                                relativeThreshold: needsRefinement ? Self.modeThreshold : Self.relativeThreshold,
                                                threads: threads, scalePriorPrecision: scalePriorPrecision,
                                                summarises: !needsRefinement)
        // Local levels score one image's few rotations: images are refined in parallel, each on one thread.
        let fullRadius = PoseSearchSettings(radius_px: radius_px, minRadius_px: minRadius_px, threads: 1,
                                            scalePriorPrecision: scalePriorPrecision)
        var results = [(poses: [WeightedPose], ess: Double)]()
        // Images go through the global level in chunks, which bounds the memory of broad early posteriors.
        for chunkStart in stride(from: 0, to: batch.count, by: Self.globalChunk) {
            let chunk = batch.subset(Array(chunkStart..<min(chunkStart + Self.globalChunk, batch.count)))
            let global = PosePosteriorKernel.posteriors(volume: volume, images: chunk, rotations: globalRotations,
                                                        shifts_px: globalShifts, noiseVariance: noiseVariance,
                                                        settings: globalSettings)
            guard needsRefinement else {
                results += global.map { ScoredPosterior($0, rotations: globalRotations, shifts: globalShifts).weighted }
                continue
            }
            results += ParallelFor.map(count: global.count, threads: threads) { slot in
                let centres = ScoredPosterior.modes(of: global[slot], rotations: globalRotations, shifts: globalShifts,
                                                    count: maxModes, separation_rad: 2 * globalGrid.step_deg * .pi / 180)
                // The first local level covers the gap between global shift grid points, later ones ±0.5 px.
                return refine(image: chunk.subset([slot]), volume: volume, centres: centres,
                              step_deg: globalGrid.step_deg, shiftHalfWidth: max(1, globalShiftStep_px / 2),
                              noiseVariance: noiseVariance, settings: fullRadius).weighted
            }
        }
        return results
    }

    /// The posterior of each image of `batch` near its current pose only (a local search, as a refinement round
    /// makes it): local levels as after the global level, starting from a step of `localLevels` doublings of the
    /// needed step around `poses[i]`, with ±1 px of shift at 0.5 px steps, then ±0.5 px.
    func searchLocally(volume: FourierVolume, batch: PoseImageBatch, around poses: [(rotation: Rotation, shift_px: SIMD2<Double>)],
                       localLevels: Int = 2, noiseVariance: NoiseSpectrum) -> [(poses: [WeightedPose], ess: Double)] {
        precondition(poses.count == batch.count, "CoarseToFineSearch: one starting pose per image")
        // Images are refined in parallel, each on one thread.
        let fullRadius = PoseSearchSettings(radius_px: radius_px, minRadius_px: minRadius_px, threads: 1,
                                            scalePriorPrecision: scalePriorPrecision)
        let step_deg = neededStep_deg * Double(1 << localLevels)
        return ParallelFor.map(count: poses.count, threads: threads) { slot in
            let pose = poses[slot]
            let centre = ScoredPosterior.Entry(rotation: pose.rotation, shift_px: pose.shift_px, logLikelihood: 0, scale: 1)
            return refine(image: batch.subset([slot]), volume: volume, centres: [centre], step_deg: step_deg,
                          shiftHalfWidth: 1, noiseVariance: noiseVariance, settings: fullRadius).weighted
        }
    }

    /// Local levels around `centres` (poses of one image): each level searches rotations within the previous
    /// level's step (`step_deg` at first) at half that step, down to `neededStep_deg / oversampling`, and shifts
    /// within `shiftHalfWidth` px (then ±0.5 px, less on oversampled levels) at half that, and carries up to
    /// `maxModes` modes to the next level.
    private func refine(image: PoseImageBatch, volume: FourierVolume, centres firstCentres: [ScoredPosterior.Entry],
                        step_deg firstStep_deg: Double, shiftHalfWidth firstShiftHalfWidth: Double,
                        noiseVariance: NoiseSpectrum, settings: PoseSearchSettings) -> ScoredPosterior {
        var centres = firstCentres, step_deg = firstStep_deg
        var shiftHalfWidth = firstShiftHalfWidth, shiftStep = max(0.5, firstShiftHalfWidth / 2)
        var posterior: ScoredPosterior
        let finestStep_deg = neededStep_deg / Double(oversampling)
        repeat {
            let levelStep_deg = max(finestStep_deg, step_deg / 2)
            if levelStep_deg < neededStep_deg {
                // Oversampled levels: shifts within ±half a step of the level before, at that half step.
                let fraction = levelStep_deg / neededStep_deg
                (shiftHalfWidth, shiftStep) = (0.5 * fraction, 0.5 * fraction)
            }
            posterior = ScoredPosterior(merging: centres.map { centre in
                let rotations = SO3LocalGrid.rotations(around: centre.rotation, step_deg: levelStep_deg, radius_deg: step_deg)
                let shifts = Self.shiftGrid(halfWidth: shiftHalfWidth, step: shiftStep, around: centre.shift_px)
                let part = PosePosteriorKernel.posteriors(volume: volume, images: image, rotations: rotations,
                                                          shifts_px: shifts, noiseVariance: noiseVariance,
                                                          settings: settings)[0]
                return ScoredPosterior(part, rotations: rotations, shifts: shifts)
            })
            step_deg = levelStep_deg
            (shiftHalfWidth, shiftStep) = (0.5, 0.5)
            if step_deg > finestStep_deg {
                centres = posterior.modes(count: maxModes, separation_rad: 2 * step_deg * .pi / 180)
            }
        } while step_deg > finestStep_deg
        return posterior
    }

    /// Shifts `(i, j)·step` with `|(i, j)·step| ≤ radius`, row by row (at least the zero shift).
    static func shiftDisc(radius: Double, step: Double) -> [SIMD2<Double>] {
        shiftGrid(halfWidth: radius, step: step, around: .zero).filter { ($0 * $0).sum() <= radius * radius + 1e-9 }
    }

    /// Shifts `around + (i, j)·step` for `|i·step|, |j·step| ≤ halfWidth`, row by row.
    static func shiftGrid(halfWidth: Double, step: Double, around centre: SIMD2<Double>) -> [SIMD2<Double>] {
        let m = Int((halfWidth / step).rounded(.down))
        return (-m...m).flatMap { y in (-m...m).map { x in centre + SIMD2(Double(x), Double(y)) * step } }
    }
}

/// A sparse posterior of one image over explicit poses, kept with log-likelihoods so that the posteriors of
/// several separately scored pose sets (the modes of a level) can be merged into one.
struct ScoredPosterior {
    struct Entry {
        var rotation: Rotation
        var shift_px: SIMD2<Double>
        var logLikelihood: Double
        /// The image's contrast scale at this pose.
        var scale: Double
    }

    /// Kept poses, most likely first.
    private(set) var entries: [Entry]
    /// Log of `Σ exp(LL)` over every evaluated pose (not only the kept ones).
    private(set) var logMass: Double
    /// Log of `Σ exp(2 LL)` over every evaluated pose.
    private(set) var logSquaredMass: Double

    init(_ posterior: PosePosterior, rotations: [Rotation], shifts: [SIMD2<Double>]) {
        entries = posterior.poses.map {
            Entry(rotation: rotations[$0.rotation], shift_px: shifts[$0.shift], logLikelihood: $0.logLikelihood,
                  scale: $0.scale)
        }
        logMass = posterior.logEvidence + log(Double(posterior.evaluatedPoseCount))
        // ESS = (Σ e)² / Σ e², so Σ e² = (Σ e)² / ESS.
        logSquaredMass = 2 * logMass - log(posterior.effectiveSampleSize)
    }

    /// One posterior over the union of the parts' poses (the parts' pose sets are assumed disjoint).
    init(merging parts: [ScoredPosterior]) {
        precondition(!parts.isEmpty, "ScoredPosterior: nothing to merge")
        let all = parts.flatMap(\.entries).sorted { $0.logLikelihood > $1.logLikelihood }
        let cutoff = (all.first?.logLikelihood ?? 0) + log(CoarseToFineSearch.relativeThreshold)
        entries = all.filter { $0.logLikelihood >= cutoff }
        logMass = Self.logSumExp(parts.map(\.logMass))
        logSquaredMass = Self.logSumExp(parts.map(\.logSquaredMass))
    }

    /// Effective sample size `(Σ e)² / Σ e²` over every evaluated pose.
    var effectiveSampleSize: Double { exp(2 * logMass - logSquaredMass) }

    /// The kept poses with weights normalised to 1, best first, and the effective sample size.
    var weighted: (poses: [WeightedPose], ess: Double) {
        let best = entries[0].logLikelihood
        let raw = entries.map { exp($0.logLikelihood - best) }
        let total = raw.reduce(0, +)
        let poses = zip(entries, raw).map { WeightedPose(rotation: $0.rotation, shift_px: $0.shift_px, weight: $1 / total,
                                                                 scale: $0.scale) }
        return (poses, effectiveSampleSize)
    }

    /// Up to `count` poses to refine: the best, then each next most likely pose whose weight is at least
    /// `CoarseToFineSearch.modeThreshold` of the best and whose rotation is more than `separation_rad` from every
    /// pose already chosen.
    func modes(count: Int, separation_rad: Double) -> [Entry] {
        Self.modes(of: entries, count: count, separation_rad: separation_rad)
    }

    /// `modes(count:separation_rad:)` of a kernel posterior over `rotations × shifts`, without converting the
    /// poses it does not reach.
    static func modes(of posterior: PosePosterior, rotations: [Rotation], shifts: [SIMD2<Double>], count: Int,
                      separation_rad: Double) -> [Entry] {
        modes(of: posterior.poses.lazy.map {
            Entry(rotation: rotations[$0.rotation], shift_px: shifts[$0.shift], logLikelihood: $0.logLikelihood,
                  scale: $0.scale)
        }, count: count, separation_rad: separation_rad)
    }

    private static func modes(of entries: some Sequence<Entry>, count: Int, separation_rad: Double) -> [Entry] {
        var chosen = [Entry](), quaternions = [SIMD4<Double>](), cutoff = -Double.infinity
        for entry in entries {
            if chosen.isEmpty { cutoff = entry.logLikelihood + log(CoarseToFineSearch.modeThreshold) }
            guard entry.logLikelihood >= cutoff else { break }
            let q = entry.rotation.quaternionVector
            guard quaternions.allSatisfy({ so3Distance_rad($0, q) > separation_rad }) else { continue }
            chosen.append(entry)
            quaternions.append(q)
            if chosen.count == count { break }
        }
        return chosen
    }

    private static func logSumExp(_ values: [Double]) -> Double {
        guard let m = values.max(), m.isFinite else { return values.max() ?? -.infinity }
        return m + log(values.reduce(0) { $0 + exp($1 - m) })
    }
}
