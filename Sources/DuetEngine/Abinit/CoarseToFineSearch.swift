import DuetCore
import DuetKernels

/// Coarse-to-fine pose inference for a minibatch (DESIGN.md §2): the posterior over a global `SO3Grid` × an
/// integer shift grid is scored on the low frequencies only (`coarseRadius_px`, where it is cheap and the whole
/// minibatch shares each projected slice), then each image is refined at the full radius on local rotation grids
/// that halve the angular step at every level until it reaches the step the resolution needs, each level centred
/// on the previous level's best pose, with ±1 px then ±0.5 px of shift at 0.5 px steps. The returned posterior is
/// the last level's (the one scored at the full radius).
struct CoarseToFineSearch {
    /// Angular step (degrees) the current resolution needs: one Fourier pixel of arc at the particle's edge.
    let neededStep_deg: Double
    let radius_px: Int
    let coarseRadius_px: Int
    let maxShift_px: Int
    let threads: Int?

    init(box: Int, diameter_px: Double, radius_px: Int, coarseRadius_px: Int, maxShift_px: Int, threads: Int?) {
        neededStep_deg = min(30, (Double(box) / max(diameter_px, 1) / Double(radius_px)) * 180 / .pi)
        self.radius_px = radius_px
        self.coarseRadius_px = min(radius_px, coarseRadius_px)
        self.maxShift_px = maxShift_px
        self.threads = threads
    }

    /// The posterior of each image of `batch`, as poses with weights (best first), and its effective sample size.
    func search(volume: FourierVolume, batch: PoseImageBatch, noiseVariance: [Double]) -> [(poses: [WeightedPose], ess: Double)] {
        let globalGrid = SO3Grid(order: neededStep_deg < 15 ? 2 : 1)
        let globalShifts = Self.shiftGrid(halfWidth: Double(maxShift_px), step: 1, around: .zero)
        let global = PosePosteriorKernel.posteriors(
            volume: volume, images: batch, rotations: globalGrid.rotations, shifts_px: globalShifts,
            noiseVariance: noiseVariance, settings: PoseSearchSettings(radius_px: coarseRadius_px, threads: threads))
        let needsRefinement = neededStep_deg < globalGrid.step_deg || coarseRadius_px < radius_px
        let fullRadius = PoseSearchSettings(radius_px: radius_px, threads: threads)
        return global.enumerated().map { slot, globalPosterior in
            var posterior = globalPosterior
            var rotations = globalGrid.rotations, shifts = globalShifts
            guard needsRefinement else { return (Self.weightedPoses(posterior, rotations, shifts), posterior.effectiveSampleSize) }
            let image = batch.subset([slot])
            var step_deg = globalGrid.step_deg, shiftHalfWidth = 1.0
            repeat {
                let centre = rotations[posterior.best.rotation], shiftCentre = shifts[posterior.best.shift]
                let levelStep_deg = max(neededStep_deg, step_deg / 2)
                rotations = SO3LocalGrid.rotations(around: centre, step_deg: levelStep_deg, radius_deg: step_deg)
                shifts = Self.shiftGrid(halfWidth: shiftHalfWidth, step: 0.5, around: shiftCentre)
                posterior = PosePosteriorKernel.posteriors(volume: volume, images: image, rotations: rotations,
                                                           shifts_px: shifts, noiseVariance: noiseVariance,
                                                           settings: fullRadius)[0]
                step_deg = levelStep_deg
                shiftHalfWidth = 0.5
            } while step_deg > neededStep_deg
            return (Self.weightedPoses(posterior, rotations, shifts), posterior.effectiveSampleSize)
        }
    }

    /// Shifts `around + (i, j)·step` for `|i·step|, |j·step| ≤ halfWidth`, row by row.
    static func shiftGrid(halfWidth: Double, step: Double, around centre: SIMD2<Double>) -> [SIMD2<Double>] {
        let m = Int((halfWidth / step).rounded(.down))
        return (-m...m).flatMap { y in (-m...m).map { x in centre + SIMD2(Double(x), Double(y)) * step } }
    }

    private static func weightedPoses(_ posterior: PosePosterior, _ rotations: [Rotation],
                                      _ shifts: [SIMD2<Double>]) -> [WeightedPose] {
        posterior.poses.map { WeightedPose(rotation: rotations[$0.rotation], shift_px: shifts[$0.shift], weight: $0.weight) }
    }
}
