import DuetCore

/// A particle pose with its posterior weight, as the SGD data term uses it: rotation, in-plane shift in pixels (the
/// `translation_px` convention of `FourierVolume.project`) and weight.
public struct WeightedPose: Sendable {
    public var rotation: Rotation
    public var shift_px: SIMD2<Double>
    public var weight: Double

    public init(rotation: Rotation, shift_px: SIMD2<Double>, weight: Double) {
        self.rotation = rotation
        self.shift_px = shift_px
        self.weight = weight
    }
}

/// The data term of the ab-initio objective for a minibatch at fixed, posterior-weighted poses (DESIGN.md §2):
///
///     L(V) = Σ_i Σ_p w_ip Σ_k f_k |C_ik · (S_t P_R V)_k − X_ik|² / (2 σ²(shell k))
///
/// over the centred half-plane coefficients `k` with `|k| ≤ radius_px` (`f_k` the Friedel weight: 1 on the `kx = 0`
/// column and, for even boxes, the Nyquist column, else 2, so the sum equals the full-plane sum), `C` the CTF,
/// `S_t P_R` the shifted projection of `FourierVolume.project` and `σ²` the per-shell noise variance of each of the
/// real and imaginary parts.
///
/// Its gradient with respect to the stored volume coefficients (real and imaginary parts, the real inner product
/// under which `BackProjector.insert` is the adjoint of `project`) is the back-projection of
/// `w f C (C S_t P_R V − X)/σ²`; the diagonal curvature used as preconditioner is the back-projection of
/// `w f C²/σ²`.
public enum DataTerm {
    /// `L(V)` in double precision.
    public static func objective(volume: FourierVolume, images: PoseImageBatch, poses: [[WeightedPose]],
                                 noiseVariance: [Double], radius_px: Int) -> Double {
        let layout = AnnulusLayout(box: images.box, radius: radius_px, minRadius: 0)
        let slice = AlignedBuffer<SIMD2<Float>>(count: images.complexCount)
        var total = 0.0
        for (i, imagePoses) in poses.enumerated() {
            let x = images.spectra.baseAddress + i * images.complexCount
            let c = images.ctfs.baseAddress + i * images.complexCount
            for pose in imagePoses {
                volume.project(rotation: pose.rotation, translation_px: pose.shift_px, radius_px: radius_px,
                               into: slice.baseAddress)
                var sum = 0.0
                for n in 0..<layout.count {
                    let k = Int(layout.halfPlaneIndex[n])
                    let residual = SIMD2<Double>(slice[k] * c[k] - x[k])
                    sum += Double(layout.friedel[n]) * (residual * residual).sum()
                        / (2 * noiseVariance[Int(layout.shell[n])])
                }
                total += pose.weight * sum
            }
        }
        return total
    }

    /// Adds the gradient of `L` to `accumulator.numerator` and the diagonal curvature to `accumulator.weight`.
    /// All poses are projected, turned into weighted residuals and inserted in parallel on `threads` workers.
    public static func accumulateGradient(volume: FourierVolume, images: PoseImageBatch, poses: [[WeightedPose]],
                                          noiseVariance: [Double], radius_px: Int, into accumulator: BackProjector,
                                          threads: Int? = nil) {
        let layout = AnnulusLayout(box: images.box, radius: radius_px, minRadius: 0)
        let entries = poses.enumerated().flatMap { image, list in list.map { (image: image, pose: $0) } }
        guard !entries.isEmpty else { return }
        let stride = images.complexCount
        let slices = AlignedBuffer<SIMD2<Float>>(count: entries.count * stride)
        let curvatures = AlignedBuffer<Float>(count: entries.count * stride)
        let rotations = entries.map(\.pose.rotation), shifts = entries.map(\.pose.shift_px)
        volume.project(rotations: rotations, translations_px: shifts, radius_px: radius_px, into: slices.baseAddress,
                       outputStride: stride, threads: threads)
        let scales = layout.shell.indices.map { n in Float(Double(layout.friedel[n]) / noiseVariance[Int(layout.shell[n])]) }
        nonisolated(unsafe) let sliceBase = slices.baseAddress, curvatureBase = curvatures.baseAddress
        nonisolated(unsafe) let spectra = images.spectra.baseAddress, ctfs = images.ctfs.baseAddress
        ParallelFor.run(count: entries.count, threads: threads) { range in
            for e in range {
                let (image, pose) = entries[e]
                let x = spectra + image * stride, c = ctfs + image * stride
                let slice = sliceBase + e * stride, curvature = curvatureBase + e * stride
                // Coefficients outside the radius stay zero: `project` zeroed them and they are not visited.
                let weight = Float(pose.weight)
                for n in 0..<layout.count {
                    let k = Int(layout.halfPlaneIndex[n])
                    let scale = weight * scales[n]
                    slice[k] = scale * c[k] * (slice[k] * c[k] - x[k])
                    curvature[k] = scale * c[k] * c[k]
                }
            }
        }
        accumulator.insert(slices: slices.baseAddress, sliceStride: stride, sliceWeights: curvatures.baseAddress,
                           weightStride: stride, rotations: rotations, translations_px: shifts, radius_px: radius_px,
                           threads: threads)
    }
}
