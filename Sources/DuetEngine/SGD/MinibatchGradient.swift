import DuetComm
import DuetKernels

/// The data-term gradient and curvature of one minibatch (`DataTerm.gradientSlices`), summed exactly over the ranks
/// of a communicator into an `ExactBackProjector`. The slices are made and inserted for groups of images whose
/// slices fit in `budget_bytes` (default `sliceMemoryBudget_bytes`), so a minibatch of broad posteriors (thousands
/// of poses per image early on) does not hold every slice at once. The fixed-point scale needs the largest slice
/// value before anything is inserted: when all ranks' slices together fit one budget it is their largest value,
/// otherwise `DataTerm.gradientBound` (an upper bound, so each group's slices are made once). The choice depends on
/// the minibatch's total pose count only, and exact sums make the result independent of the grouping, the rank
/// count and the thread count. The sum is a reduce-scatter by z-planes (`ExactBackProjector.planeShares`) of the
/// cells a sample can reach (`ExactBackProjector.pack`): each rank gets the sums of its own planes, where it takes
/// the step (a quarter of the traffic of an allreduce of the whole region, and the step divided by the ranks). The
/// accumulator and the slices' memory are kept for the next minibatch (no hundreds of megabytes of fresh pages to
/// fault in every iteration).
final class MinibatchGradient {
    static let sliceMemoryBudget_bytes = 512 << 20
    let budget_bytes: Int
    private var accumulator: ExactBackProjector?
    private var slices: GradientSlices?

    init(budget_bytes: Int = sliceMemoryBudget_bytes) {
        self.budget_bytes = budget_bytes
    }

    /// Collective over `communicator`: every rank passes its own images of the minibatch and their posteriors.
    /// The returned sums are valid until the next call.
    func accumulate(volume: FourierVolume, batch: PoseImageBatch, poses: [[WeightedPose]], noiseVariance: NoiseSpectrum,
                    radius_px: Int, grid: FourierGrid, threads: Int?, communicator: Communicator) throws -> SummedGradient {
        let sliceCount = SliceLayout.compact(radius_px: radius_px, imageBox: batch.box).complexCount
        let bytesPerSlice = sliceCount * (MemoryLayout<SIMD2<Float>>.stride + MemoryLayout<Float>.stride)
        let poseCounts = poses.map(\.count)
        let budget = max(1, budget_bytes / bytesPerSlice)
        let totalPoses = try communicator.allreduceSum(poseCounts.reduce(0, +))
        let groups = totalPoses <= budget ? [0..<poses.count] : Self.imageGroups(poseCounts: poseCounts, budget: budget)
        // The kept slice memory serves again unless the largest group needs more, or less than half of it (the
        // broad posteriors of the first iterations need far more than later ones): then it goes before new comes.
        let needed = (groups.map { poseCounts[$0].reduce(0, +) }.max() ?? 0) * sliceCount
        if let kept = self.slices?.slices.count, kept < needed || kept > 2 * needed { self.slices = nil }
        func slices(_ images: Range<Int>) -> GradientSlices {
            let made = DataTerm.gradientSlices(volume: volume, images: batch.subset(Array(images)),
                                               poses: Array(poses[images]), noiseVariance: noiseVariance,
                                               radius_px: radius_px, threads: threads, reusing: self.slices)
            self.slices = made
            return made
        }
        let single = totalPoses <= budget ? slices(0..<poses.count) : nil
        let largest = single?.maxAbsoluteValue
            ?? DataTerm.gradientBound(volume: volume, images: batch, poses: poses, noiseVariance: noiseVariance,
                                      radius_px: radius_px)
        let scale = ExactBackProjector.scale(maxAbsoluteValue: try communicator.allreduceMax(largest),
                                             sliceCount: totalPoses)
        let accumulator: ExactBackProjector
        if let previous = self.accumulator, previous.radius_px == radius_px, previous.grid == grid {
            previous.reset(scale: scale)
            accumulator = previous
        } else {
            self.accumulator = nil   // its memory goes before the new one's comes
            accumulator = ExactBackProjector(grid: grid, radius_px: radius_px, scale: scale)
            self.accumulator = accumulator
        }
        for group in groups { (single ?? slices(group)).insert(into: accumulator, threads: threads) }
        let shares = accumulator.planeShares(count: communicator.size)
        if communicator.size > 1 {
            // Only the cells a sample can reach travel (packed in place, about half the region), then each rank
            // unpacks its own planes.
            let numerators = accumulator.cells.baseAddress, weights = numerators + 2 * accumulator.regionCount
            let counts = shares.map { accumulator.reachedCells(planes: $0) }, total = counts.reduce(0, +)
            accumulator.pack(numerators, valuesPerCell: 2)
            accumulator.pack(weights, valuesPerCell: 1)
            try communicator.reduceScatterSum(UnsafeMutableBufferPointer(start: numerators, count: 2 * total),
                                              counts: counts.map { 2 * $0 })
            try communicator.reduceScatterSum(UnsafeMutableBufferPointer(start: weights, count: total), counts: counts)
            let mine = shares[communicator.rank]
            accumulator.unpack(numerators, valuesPerCell: 2, planes: mine)
            accumulator.unpack(weights, valuesPerCell: 1, planes: mine)
        }
        return SummedGradient(accumulator: accumulator, shares: shares, rank: communicator.rank)
    }

    /// Consecutive ranges of images whose pose counts add up to at most `budget` (an image with more poses than
    /// that forms a group of its own).
    static func imageGroups(poseCounts: [Int], budget: Int) -> [Range<Int>] {
        var groups = [Range<Int>](), start = 0, total = 0
        for (image, count) in poseCounts.enumerated() {
            if total + count > budget && image > start {
                groups.append(start..<image)
                (start, total) = (image, 0)
            }
            total += count
        }
        if start < poseCounts.count { groups.append(start..<poseCounts.count) }
        return groups
    }
}

/// A minibatch's gradient summed over a communicator's ranks by z-planes: rank `r` holds the sums of the accumulator's
/// planes `shares[r]` only (the other planes' cells hold partial sums).
struct SummedGradient {
    let accumulator: ExactBackProjector
    /// Each rank's planes, in rank order.
    let shares: [Range<Int>]
    let rank: Int

    /// The planes whose sums this rank holds.
    var ownPlanes: Range<Int> { shares[rank] }
}
