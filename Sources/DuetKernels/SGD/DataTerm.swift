import DuetCore

/// A particle pose with its posterior weight, as the SGD data term uses it: rotation, in-plane shift in pixels (the
/// `translation_px` convention of `FourierVolume.project`), weight, and the image's contrast scale at that pose (the
/// image is modelled as `scale · CTF · projection`).
public struct WeightedPose: Sendable {
    public var rotation: Rotation
    public var shift_px: SIMD2<Double>
    public var weight: Double
    public var scale: Double

    public init(rotation: Rotation, shift_px: SIMD2<Double>, weight: Double, scale: Double = 1) {
        self.rotation = rotation
        self.shift_px = shift_px
        self.weight = weight
        self.scale = scale
    }
}

/// The data term of the ab-initio objective for a minibatch at fixed, posterior-weighted poses (docs/design.md §2):
///
///     L(V) = Σ_i Σ_p w_ip Σ_k f_k |α_ip C_ik · (S_t P_R V)_k − X_ik|² / (2 σ²(shell k))
///
/// (`α_ip` the image's contrast scale at pose `p`, `WeightedPose.scale`) over the centred half-plane coefficients `k` with `|k| ≤ radius_px` (`f_k` the Friedel weight: 1 on the `kx = 0`
/// column and, for even boxes, the Nyquist column, else 2, so the sum equals the full-plane sum), `C` the CTF,
/// `S_t P_R` the shifted projection of `FourierVolume.project` and `σ²` the noise variance of each of the real and
/// imaginary parts (`NoiseSpectrum`: per shell, or per coefficient).
///
/// Its gradient with respect to the stored volume coefficients (real and imaginary parts, the real inner product
/// under which `BackProjector.insert` is the adjoint of `project`) is the back-projection of
/// `w f αC (αC S_t P_R V − X)/σ²`; the diagonal curvature used as preconditioner is the back-projection of
/// `w f α²C²/σ²`. An image whose scale is near 0 (empty ice, junk that fits no pose) pulls the map only weakly.
public enum DataTerm {
    /// `L(V)` in double precision.
    public static func objective(volume: FourierVolume, images: PoseImageBatch, poses: [[WeightedPose]],
                                 noiseVariance: NoiseSpectrum, radius_px: Int) -> Double {
        let layout = AnnulusLayout(box: images.box, radius: radius_px, minRadius: 0)
        let slice = AlignedBuffer<SIMD2<Float>>(count: images.complexCount)
        var total = 0.0
        for (i, imagePoses) in poses.enumerated() {
            let x = images.spectrum(i), c = images.ctf(i)
            for pose in imagePoses {
                volume.project(rotation: pose.rotation, translation_px: pose.shift_px, radius_px: radius_px,
                               into: slice.baseAddress)
                var sum = 0.0
                let scale = Float(pose.scale)
                for n in 0..<layout.count {
                    let k = Int(layout.halfPlaneIndex[n])
                    let residual = SIMD2<Double>(slice[k] * (scale * c[k]) - x[k])
                    sum += Double(layout.friedel[n]) * (residual * residual).sum()
                        / (2 * noiseVariance.variance(halfPlaneIndex: k, shell: Int(layout.shell[n])))
                }
                total += pose.weight * sum
            }
        }
        return total
    }

    /// The gradient and curvature slices of `L`: for every pose of every image, `w f αC (αC S_t P_R V − X)/σ²` and
    /// `w f α²C²/σ²` within `radius_px` (zero outside), to be back-projected at the pose; stored in the compact
    /// layout of that radius (`SliceLayout.compact`), so that their memory and cost follow the resolution. Poses
    /// are projected and weighted in parallel on `threads` workers; each slice depends only on its own image and
    /// pose. `reusing` is an earlier result whose memory serves again when it is large enough (that result must not
    /// be used afterwards).
    public static func gradientSlices(volume: FourierVolume, images: PoseImageBatch, poses: [[WeightedPose]],
                                      noiseVariance: NoiseSpectrum, radius_px: Int, threads: Int? = nil,
                                      reusing previous: GradientSlices? = nil) -> GradientSlices {
        let layout = AnnulusLayout(box: images.box, radius: radius_px, minRadius: 0)
        let sliceLayout = SliceLayout.compact(radius_px: radius_px, imageBox: images.box)
        let sliceIndex = (0..<layout.count).map { sliceLayout.index(kx: Int(layout.kx[$0]), ky: Int(layout.ky[$0])) }
        let entries = poses.enumerated().flatMap { image, list in list.map { (image: image, pose: $0) } }
        let stride = sliceLayout.complexCount
        let result = GradientSlices(count: entries.count, layout: sliceLayout, rotations: entries.map(\.pose.rotation),
                                    shifts_px: entries.map(\.pose.shift_px), reusing: previous)
        guard !entries.isEmpty else { return result }
        volume.project(rotations: result.rotations, translations_px: result.shifts_px, radius_px: radius_px,
                       layout: sliceLayout, into: result.slices.baseAddress, outputStride: stride, threads: threads)
        let scales = layout.inverseVariances(noiseVariance).map(Float.init)
        nonisolated(unsafe) let sliceBase = result.slices.baseAddress, curvatureBase = result.curvatures.baseAddress
        let largest = AlignedBuffer<Float>(count: entries.count)
        ParallelFor.run(count: entries.count, threads: threads) { range in
            for e in range {
                let (image, pose) = entries[e]
                let x = images.spectrum(image), c = images.ctf(image)
                let slice = sliceBase + e * stride, curvature = curvatureBase + e * stride
                // Coefficients outside the radius stay zero: `project` zeroed them and they are not visited.
                let weight = Float(pose.weight), contrast = Float(pose.scale)
                var m: Float = 0
                for n in 0..<layout.count {
                    let k = Int(layout.halfPlaneIndex[n]), j = sliceIndex[n]
                    let scale = weight * scales[n], ctf = contrast * c[k]
                    slice[j] = scale * ctf * (slice[j] * ctf - x[k])
                    curvature[j] = scale * ctf * ctf
                    m = max(m, abs(slice[j].x), abs(slice[j].y), curvature[j])
                }
                largest[e] = m
            }
        }
        result.maxAbsoluteValue = Double(largest.buffer.max() ?? 0)
        return result
    }

    /// An upper bound on `GradientSlices.maxAbsoluteValue` of `gradientSlices` with the same arguments, without
    /// making the slices: `|P| ≤ max |V|` (trilinear interpolation averages cells; a translation keeps the modulus),
    /// so a value is at most `w α s |C| (α |C| max|V| + |X|)` and a curvature `w α² s C²` (`s = f/σ²`), bounded per
    /// image by the largest `s C²` and `s |C| |X|` of its coefficients; with a margin for Float rounding.
    public static func gradientBound(volume: FourierVolume, images: PoseImageBatch, poses: [[WeightedPose]],
                                     noiseVariance: NoiseSpectrum, radius_px: Int) -> Double {
        let layout = AnnulusLayout(box: images.box, radius: radius_px, minRadius: 0)
        let scales = layout.inverseVariances(noiseVariance)
        let volumeMax = volume.maxModulus()
        var bound = 0.0
        for (i, imagePoses) in poses.enumerated() where !imagePoses.isEmpty {
            let x = images.spectrum(i), c = images.ctf(i)
            var ctfSquared = 0.0, ctfImage = 0.0
            for n in 0..<layout.count {
                let k = Int(layout.halfPlaneIndex[n]), ctf = Double(abs(c[k]))
                ctfSquared = max(ctfSquared, scales[n] * ctf * ctf)
                let xk = SIMD2<Double>(x[k])
                ctfImage = max(ctfImage, scales[n] * ctf * (xk * xk).sum().squareRoot())
            }
            for pose in imagePoses {
                let a = pose.scale
                bound = max(bound, pose.weight * a * (a * ctfSquared * volumeMax + ctfImage),
                            pose.weight * a * a * ctfSquared)
            }
        }
        return bound * (1 + 1e-3)
    }

    /// Adds the gradient of `L` to `accumulator.numerator` and the diagonal curvature to `accumulator.weight`.
    public static func accumulateGradient(volume: FourierVolume, images: PoseImageBatch, poses: [[WeightedPose]],
                                          noiseVariance: NoiseSpectrum, radius_px: Int, into accumulator: BackProjector,
                                          threads: Int? = nil) {
        let g = gradientSlices(volume: volume, images: images, poses: poses, noiseVariance: noiseVariance,
                               radius_px: radius_px, threads: threads)
        guard g.count > 0 else { return }
        accumulator.insert(slices: g.slices.baseAddress, sliceStride: g.stride, sliceWeights: g.curvatures.baseAddress,
                           weightStride: g.stride, rotations: g.rotations, translations_px: g.shifts_px,
                           radius_px: radius_px, layout: g.layout, threads: threads)
    }
}

/// The slices of `DataTerm.gradientSlices`: slice `i` (numerator at `slices + i · stride`, curvature at
/// `curvatures + i · stride`, in `layout`) goes in at `rotations[i]`, translated by `shifts_px[i]`.
public final class GradientSlices: @unchecked Sendable {
    public let count: Int
    public let layout: SliceLayout
    /// Complex values per slice: `layout.complexCount`.
    public var stride: Int { layout.complexCount }
    public let rotations: [Rotation]
    public let shifts_px: [SIMD2<Double>]
    /// At least `count · stride` values each (more when the memory of a larger earlier set is reused).
    public let slices: AlignedBuffer<SIMD2<Float>>
    public let curvatures: AlignedBuffer<Float>
    /// The largest magnitude of any real or imaginary part of a slice value or of a curvature.
    public internal(set) var maxAbsoluteValue: Double = 0

    /// Room for `count` slices of `layout`: `previous`'s buffers when they are large enough (their content is
    /// overwritten by the projection), otherwise new ones.
    init(count: Int, layout: SliceLayout, rotations: [Rotation], shifts_px: [SIMD2<Double>], reusing previous: GradientSlices?) {
        self.count = count
        self.layout = layout
        self.rotations = rotations
        self.shifts_px = shifts_px
        let needed = count * layout.complexCount
        if let previous, previous.slices.count >= needed {
            slices = previous.slices
            curvatures = previous.curvatures
        } else {
            slices = AlignedBuffer(count: needed)
            curvatures = AlignedBuffer(count: needed)
        }
    }

    /// Back-projects every slice into `accumulator` (exact, thread-count independent sums).
    public func insert(into accumulator: ExactBackProjector, threads: Int? = nil) {
        guard count > 0 else { return }
        accumulator.insert(slices: slices.baseAddress, sliceStride: stride, sliceWeights: curvatures.baseAddress,
                           weightStride: stride, rotations: rotations, translations_px: shifts_px, layout: layout,
                           threads: threads)
    }
}
