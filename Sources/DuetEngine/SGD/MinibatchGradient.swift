import DuetComm
import DuetKernels

/// The data-term gradient and curvature of one minibatch (`DataTerm.gradientSlices`), summed exactly over the ranks
/// of a communicator into an `ExactBackProjector`. The slices are made and inserted for groups of images whose
/// slices fit in `budget_bytes` (default `sliceMemoryBudget_bytes`), so a minibatch of broad posteriors (thousands
/// of poses per image early on) does not hold every slice at once. The fixed-point scale needs the largest slice
/// value before anything is inserted; with more than one group the slices are therefore made twice (once for that
/// maximum, once to insert). Exact sums make the result independent of the grouping, the rank count and the thread
/// count.
enum MinibatchGradient {
    static let sliceMemoryBudget_bytes = 512 << 20

    /// Collective over `communicator`: every rank passes its own images of the minibatch and their posteriors.
    /// `reusing` is an accumulator of an earlier call whose memory serves again when its radius and grid match.
    static func accumulate(volume: FourierVolume, batch: PoseImageBatch, poses: [[WeightedPose]],
                           noiseVariance: NoiseSpectrum, radius_px: Int, grid: FourierGrid, threads: Int?,
                           communicator: Communicator, reusing previous: ExactBackProjector? = nil,
                           budget_bytes: Int = sliceMemoryBudget_bytes) throws -> ExactBackProjector {
        let sliceCount = SliceLayout.compact(radius_px: radius_px, imageBox: batch.box).complexCount
        let bytesPerSlice = sliceCount * (MemoryLayout<SIMD2<Float>>.stride + MemoryLayout<Float>.stride)
        let poseCounts = poses.map(\.count)
        let groups = imageGroups(poseCounts: poseCounts, budget: max(1, budget_bytes / bytesPerSlice))
        func slices(_ images: Range<Int>) -> GradientSlices {
            DataTerm.gradientSlices(volume: volume, images: batch.subset(Array(images)), poses: Array(poses[images]),
                                    noiseVariance: noiseVariance, radius_px: radius_px, threads: threads)
        }
        let single = groups.count == 1 ? slices(groups[0]) : nil
        let largest = single.map(\.maxAbsoluteValue) ?? groups.map { slices($0).maxAbsoluteValue }.max() ?? 0
        let scale = ExactBackProjector.scale(maxAbsoluteValue: try communicator.allreduceMax(largest),
                                             sliceCount: try communicator.allreduceSum(poseCounts.reduce(0, +)))
        let accumulator: ExactBackProjector
        if let previous, previous.radius_px == radius_px, previous.grid == grid {
            previous.reset(scale: scale)
            accumulator = previous
        } else {
            accumulator = ExactBackProjector(grid: grid, radius_px: radius_px, scale: scale)
        }
        for group in groups { (single ?? slices(group)).insert(into: accumulator, threads: threads) }
        try communicator.allreduceSum(accumulator.cells.buffer)
        return accumulator
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
