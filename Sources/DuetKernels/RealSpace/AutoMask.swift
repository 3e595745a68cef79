import Foundation

/// How `AutoMask` builds a soft mask; lengths in voxels (`_px`) or Å (`_A`).
public struct AutoMaskParameters: Sendable, Equatable {
    /// The average of the half maps is low-passed to this resolution (Å) before thresholding (`LowPassFilter`,
    /// 2-Fourier-pixel cosine edge), so the mask follows the molecule's envelope, not its noise or fine detail.
    public var lowPassResolution_A: Double
    /// The threshold is at least the solvent mean plus this fraction of (peak − solvent mean) of the low-passed
    /// map (0…1).
    public var peakFraction: Double
    /// …and at least the solvent mean plus this many solvent standard deviations of the low-passed map.
    public var solventSigmas: Double
    /// Connected components (6-connectivity) of the thresholded map smaller than this fraction of the largest one
    /// are dropped: 0 keeps all, 1 keeps only the largest.
    public var minimumComponentFraction: Double
    /// The thresholded region is dilated by a ball of this radius (voxels).
    public var dilation_px: Double
    /// Width (voxels) of the raised-cosine edge outside the dilated region; 0 gives a binary mask.
    public var softEdge_px: Double

    /// Defaults: 15 Å low-pass, threshold at 10 % of the peak or 3 σ of the solvent above the solvent mean
    /// (whichever is higher), components under 10 % of the largest dropped, 3 px dilation, 6 px soft edge.
    public init(lowPassResolution_A: Double = 15, peakFraction: Double = 0.1, solventSigmas: Double = 3,
                minimumComponentFraction: Double = 0.1, dilation_px: Double = 3, softEdge_px: Double = 6) {
        self.lowPassResolution_A = lowPassResolution_A
        self.peakFraction = peakFraction
        self.solventSigmas = solventSigmas
        self.minimumComponentFraction = minimumComponentFraction
        self.dilation_px = dilation_px
        self.softEdge_px = softEdge_px
    }
}

/// A soft mask and the numbers that chose it.
public struct AutoMaskResult: Sendable {
    /// `box³` values in [0, 1], x fastest.
    public let mask: [Float]
    /// Threshold applied to the low-passed average map (its units: those of the maps).
    public let threshold: Double
    /// Mean and standard deviation of the low-passed average in the solvent region (outside the sphere of radius
    /// `box/2` about the centre voxel, i.e. the corners of the box).
    public let solventMean: Double
    public let solventSigma: Double
    /// Maximum of the low-passed average.
    public let peak: Double
    /// Voxels above the threshold kept after the component filter (before dilation); 0 means no voxel passed and
    /// the mask is all ones.
    public let coreVoxelCount: Int

    /// Fraction of the box inside the mask, `Σ mask / box³`.
    public var volumeFraction: Double {
        mask.isEmpty ? 0 : mask.reduce(0.0) { $0 + Double($1) } / Double(mask.count)
    }
}

/// Automatic soft mask from two half maps, in the style of RELION's `relion_mask_create` and CryoSPARC's FSC masks.
///
/// Steps, on `box³` maps, x fastest, centre voxel `box/2`:
/// 1. average the half maps and low-pass the average to `lowPassResolution_A`;
/// 2. threshold rule: with `μ`, `σ` the mean and standard deviation of the low-passed map in the solvent region
///    (the box corners, farther than `box/2` voxels from the centre, where no particle should be) and `peak` its
///    maximum, the threshold is `t = max(μ + peakFraction·(peak − μ), μ + solventSigmas·σ)`: a level set at a fixed
///    fraction of the density's height above the solvent (as CryoSPARC's dynamic-mask threshold is a fraction),
///    raised when needed so that low-passed noise alone does not reach it. The default fraction 0.1 keeps a small
///    isolated feature of 0.6× the peak height fully inside (AutoMaskTests; with 0.2 the mask fell below 0.9 on
///    part of it): a generous mask only costs a little of the masked FSC's gain, one that cuts density biases it.
///    Voxels with value `> t` form the core; if none does (a flat map) the mask is all ones, which makes the masked
///    FSC equal the unmasked one;
/// 3. drop core components smaller than `minimumComponentFraction` of the largest (noise specks);
/// 4. with `d` the Euclidean distance (voxels) to the nearest core voxel (`DistanceTransform`), the mask is 1 for
///    `d ≤ dilation_px`, `½ + ½·cos(π (d − dilation_px) / softEdge_px)` up to `dilation_px + softEdge_px`, and 0
///    beyond (RELION's `--extend_inimask` and `--width_soft_edge`).
public enum AutoMask {
    /// The mask of the average of `halfA` and `halfB` (each `box³` voxels of `pixelSize_A` Å).
    public static func make(halfA: [Float], halfB: [Float], box: Int, pixelSize_A: Double,
                            parameters: AutoMaskParameters = AutoMaskParameters()) -> AutoMaskResult {
        let n = box * box * box
        precondition(halfA.count == n && halfB.count == n, "AutoMask: \(halfA.count), \(halfB.count) voxels, box \(box)")
        var average = zip(halfA, halfB).map { 0.5 * ($0 + $1) }
        LowPassFilter.apply(&average, box: box, pixelSize_A: pixelSize_A,
                            resolution_A: parameters.lowPassResolution_A)

        let (mean, sigma) = solventStatistics(average, box: box)
        let peak = Double(average.max() ?? 0)
        let threshold = max(mean + parameters.peakFraction * (peak - mean), mean + parameters.solventSigmas * sigma)
        let above = average.map { Double($0) > threshold }
        let core = ConnectedComponents(above, box: box).keeping(atLeast: parameters.minimumComponentFraction)
        let coreCount = core.reduce(0) { $1 ? $0 + 1 : $0 }
        guard coreCount > 0 else {
            return AutoMaskResult(mask: [Float](repeating: 1, count: n), threshold: threshold, solventMean: mean,
                                  solventSigma: sigma, peak: peak, coreVoxelCount: 0)
        }
        let distance_px = DistanceTransform.euclidean(core, box: box)
        let mask = distance_px.map { Float(softEdge(distance_px: Double($0), parameters: parameters)) }
        return AutoMaskResult(mask: mask, threshold: threshold, solventMean: mean, solventSigma: sigma,
                              peak: peak, coreVoxelCount: coreCount)
    }

    /// The mask value at distance `distance_px` from the core (step 4 of the type's documentation).
    @inlinable
    public static func softEdge(distance_px d: Double, parameters: AutoMaskParameters) -> Double {
        let outside = d - parameters.dilation_px
        if outside <= 0 { return 1 }
        if outside >= parameters.softEdge_px { return 0 }
        return 0.5 + 0.5 * cos(Double.pi * outside / parameters.softEdge_px)
    }

    /// Mean and standard deviation of the voxels farther than `box/2` from the centre voxel (the corners).
    static func solventStatistics(_ map: [Float], box: Int) -> (mean: Double, sigma: Double) {
        let c = box / 2, radius2 = (box / 2) * (box / 2)
        var sum = 0.0, sum2 = 0.0, count = 0.0
        for z in 0..<box {
            for y in 0..<box {
                let yz = (y - c) * (y - c) + (z - c) * (z - c)
                for x in 0..<box where (x - c) * (x - c) + yz > radius2 {
                    let v = Double(map[x + box * (y + box * z)])
                    sum += v
                    sum2 += v * v
                    count += 1
                }
            }
        }
        guard count > 0 else { return (0, 0) }
        let mean = sum / count
        return (mean, max(0, sum2 / count - mean * mean).squareRoot())
    }
}
