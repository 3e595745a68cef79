import DuetCore
import Foundation

/// Pose posterior under a per-shell Gaussian noise model (CryoSPARC/RELION-style expectation step).
///
/// ## Model
/// For image `X` (centred half-plane spectrum), CTF `C`, rotation `R`, in-plane shift `t` (pixels) and the slice
/// `P = P_R V` (`FourierVolume.project`, no translation), the log-likelihood is
///
///     LL(R, t) = −Σ_k f_k · |X_k − C_k · S_t(k) · P_k|² / (2 σ²(shell k))
///
/// over the half-plane coefficients `k = (kx, ky)` with `minRadius² ≤ kx² + ky² ≤ radius²`, where
/// `shell k = round(|k|)`, `S_t(k) = exp(−2πi (kx·tx + ky·ty)/box)` (the phase of `FourierVolume.project`'s
/// `translation_px = t`), and `f_k` is the Friedel weight: 1 for the `kx = 0` column and (even box) the
/// `kx = box/2` column, 2 otherwise, so the sum equals the sum over the full plane of a Hermitian spectrum.
/// The Gaussian normalising constant is dropped (it is the same for every pose).
///
/// With a per-image contrast scale (`PoseSearchSettings.scalePriorPrecision = κ`) the model is `X = α·C·S_t·P + n`
/// with the prior `α ~ N(1, 1/κ)`: `LL(α) = c + α·b − α²·q − κ(α − 1)²/2` (`b`, `q` the linear and quadratic terms
/// below), maximised per pose at `α = max(0, (b + κ)/(2q + κ))`. The pose's log-likelihood is that maximum.
///
/// ## Implementation
/// Since `|S_t| = 1`, expanding the square gives
///
///     LL = c + Σ_k Re(conj(B_{t,k}) · P_k) − Σ_k Q_k · |P_k|²
///     c = −Σ f |X|² / (2σ²),   B_{t,k} = f C conj(S_t(k)) X_k / σ²,   Q_k = f C² / (2σ²)
///
/// The shift is applied on the image side: `B` (a compact array of the coefficients inside the annulus, padded to
/// a multiple of 16) and `Q` are precomputed once per image and shift, so scoring a pose is one real dot product
/// of length `2n` (`n` coefficients in the annulus) plus, per image and rotation (shared by all shifts), one dot
/// of `Q` with `|P|²`. This is cheaper than shifting the slice (which would cost a complex multiply per
/// coefficient per rotation and shift) and lets the precomputation be reused for every rotation.
///
/// Each rotation is projected once (at `radius_px`) and shared by all images and shifts. Rotations are processed
/// in fixed blocks of `rotationBlock` (the slices of a block stay in cache while every `B` streams past them);
/// threads claim blocks one at a time. Per block and image the kernel keeps the block maximum, `Σ exp(LL − m)`,
/// `Σ exp(2(LL − m))` and the poses within `log(relativeThreshold)` of the block maximum; the final reduction per
/// image runs over blocks in index order, so results are bitwise independent of the thread count. Dot products
/// accumulate in `SIMD16<Float>` lanes (each lane sums ≈ 2n/32 terms) and are reduced in Double.
public enum PosePosteriorKernel {
    /// Number of rotations per work block (fixed so that results do not depend on the thread count).
    public static let rotationBlock = 8
    /// `exp(x)` is exactly 0 in Double below this, so such poses add nothing to a block's sums and are skipped.
    static let expUnderflow = -746.0

    /// Computes the posterior over `candidates × shifts_px` for every image of `images`.
    ///
    /// - Parameters:
    ///   - volume: the current map; `images.box` must equal `volume.grid.box`.
    ///   - rotations: the rotation list; `candidates` index into it (`nil`: every rotation).
    ///   - shifts_px: in-plane shifts in pixels, convention of `FourierVolume.project`'s `translation_px`
    ///     (the image is modelled as the projection translated by `t`).
    ///   - noiseVariance: σ² per shell (index = `round(|k|)` in image Fourier pixels), > 0 for every shell up to
    ///     `round(settings.radius_px)`; in the units of `|X|²` (squared unnormalised-DFT coefficients), the variance
    ///     of each of the real and imaginary parts of the noise (complex Gaussian: `E|n_k|² = 2σ²`).
    ///   - settings: radii, output threshold, threads.
    /// - Returns: one `PosePosterior` per image, in image order.
    public static func posteriors(volume: FourierVolume, images: PoseImageBatch, rotations: [Rotation],
                                  candidates: [Int]? = nil, shifts_px: [SIMD2<Double>], noiseVariance: NoiseSpectrum,
                                  settings: PoseSearchSettings) -> [PosePosterior] {
        let grid = volume.grid
        precondition(images.box == grid.box, "PosePosteriorKernel: image box \(images.box) ≠ volume box \(grid.box)")
        precondition(settings.radius_px >= 0 && settings.radius_px <= grid.maxRadius_px,
                     "PosePosteriorKernel: radius \(settings.radius_px) outside 0…\(grid.maxRadius_px)")
        precondition(settings.relativeThreshold >= 0 && settings.relativeThreshold < 1, "bad relativeThreshold")
        let rotationIndices = candidates ?? Array(rotations.indices)
        precondition(!rotationIndices.isEmpty && !shifts_px.isEmpty, "PosePosteriorKernel: no poses")
        precondition(rotationIndices.allSatisfy { rotations.indices.contains($0) }, "candidate index out of range")
        let imageCount = images.count
        if imageCount == 0 { return [] }

        let layout = AnnulusLayout(box: grid.box, radius: settings.radius_px, minRadius: settings.minRadius_px)
        precondition(layout.count > 0, "PosePosteriorKernel: no Fourier coefficient inside the radii")
        let prepared = PreparedImages(images: images, layout: layout, shifts: shifts_px, noiseVariance: noiseVariance,
                                      threads: settings.threads)

        let shiftCount = shifts_px.count
        let blockCount = (rotationIndices.count + rotationBlock - 1) / rotationBlock
        let workers = min(blockCount, max(1, settings.threads ?? ParallelFor.defaultThreads))
        let stats = BlockStatistics(blocks: blockCount, images: imageCount)
        let logThreshold = settings.relativeThreshold > 0 ? log(settings.relativeThreshold) : -Double.infinity
        let stride = layout.paddedFloats
        let box = grid.box

        let scratch = (0..<workers).map { _ in BlockScratch(box: box, block: rotationBlock, stride: stride,
                                                             filled: 2 * layout.count, shiftCount: shiftCount) }
        withExtendedLifetime((prepared, stats, scratch)) {
            // Blocks are claimed one at a time: their cost varies (poses skipped below underflow, poses kept).
            ParallelFor.runClaiming(count: blockCount, workers: workers) { worker, b in
                let work = scratch[worker]
                let slices = work.slices, sliceSquares = work.sliceSquares, ll = work.ll, quad = work.quad
                let scales = work.scales
                let first = b * rotationBlock
                let members = min(rotationBlock, rotationIndices.count - first)
                // Project each rotation of the block once, gather the annulus, square.
                for j in 0..<members {
                    volume.project(rotation: rotations[rotationIndices[first + j]], radius_px: settings.radius_px,
                                   into: work.halfPlane)
                    layout.gather(work.halfPlane, into: slices + j * stride)
                    let s = slices + j * stride, s2 = sliceSquares + j * stride
                    for e in 0..<(2 * layout.count) { s2[e] = s[e] * s[e] }
                }
                for i in 0..<imageCount {
                    let q = prepared.quadratic(image: i)
                    for j in 0..<members {
                        quad[j] = dotProduct(q, sliceSquares + j * stride, count: stride)
                    }
                    // The linear terms `B_t · P` of every (rotation, shift) pair into `ll`, then the poses' LL.
                    linearTerms(image: i, prepared: prepared, slices: slices, members: members,
                                shiftCount: shiftCount, into: ll)
                    for j in 0..<members {
                        for t in 0..<shiftCount {
                            let e = j * shiftCount + t
                            if let kappa = settings.scalePriorPrecision {
                                let fit = ScaledFit(linear: ll[e], quadratic: quad[j], priorPrecision: kappa)
                                ll[e] = fit.logLikelihood
                                scales[e] = fit.scale
                            } else {
                                ll[e] -= quad[j]
                            }
                        }
                    }
                    // Block statistics (relative to the image constant c, added at the end).
                    let m = maximum(ll, count: members * shiftCount)
                    var s1 = 0.0, s2 = 0.0
                    for e in 0..<(members * shiftCount) where settings.summarises && ll[e] - m >= Self.expUnderflow {
                        let w = exp(ll[e] - m)
                        s1 += w
                        s2 += w * w
                    }
                    stats.set(block: b, image: i, max: m, sum: s1, sumSquares: s2)
                    for j in 0..<members {
                        for t in 0..<shiftCount where ll[j * shiftCount + t] - m >= logThreshold {
                            work.keep(PoseCandidate(image: Int32(i), rotation: Int32(rotationIndices[first + j]),
                                                    shift: Int32(t), logLikelihood: ll[j * shiftCount + t],
                                                    scale: Float(scales[j * shiftCount + t])))
                        }
                    }
                }
            }
        }

        // Final reduction per image: blocks in index order; candidates sorted, so the thread count cannot matter.
        var perImage = [[PoseCandidate]](repeating: [], count: imageCount)
        for work in scratch {
            for chunk in work.found { for c in chunk { perImage[Int(c.image)].append(c) } }
        }
        let poseCount = rotationIndices.count * shiftCount
        var results = [PosePosterior]()
        results.reserveCapacity(imageCount)
        for i in 0..<imageCount {
            var globalMax = -Double.infinity
            for b in 0..<blockCount { globalMax = max(globalMax, stats.max(block: b, image: i)) }
            var z = 0.0, z2 = 0.0
            for b in 0..<blockCount {
                let d = stats.max(block: b, image: i) - globalMax
                let e = exp(d)
                z += stats.sum(block: b, image: i) * e
                z2 += stats.sumSquares(block: b, image: i) * e * e
            }
            let c = prepared.constant[i]
            var kept = perImage[i].filter { $0.logLikelihood - globalMax >= logThreshold }
            kept.sort { a, b in
                if a.logLikelihood != b.logLikelihood { return a.logLikelihood > b.logLikelihood }
                if a.rotation != b.rotation { return a.rotation < b.rotation }
                return a.shift < b.shift
            }
            var keptSum = 0.0
            for k in kept { keptSum += exp(k.logLikelihood - globalMax) }
            let poses = kept.map {
                PoseWeight(rotation: Int($0.rotation), shift: Int($0.shift),
                           weight: exp($0.logLikelihood - globalMax) / keptSum, logLikelihood: $0.logLikelihood + c,
                           scale: Double($0.scale))
            }
            let summarised = settings.summarises
            results.append(PosePosterior(poses: poses, best: poses[0], effectiveSampleSize: summarised ? z * z / z2 : .nan,
                                         logEvidence: summarised ? c + globalMax + log(z) - log(Double(poseCount)) : .nan,
                                         evaluatedPoseCount: poseCount))
        }
        return results
    }

    /// `out[j · shiftCount + t] = B_{i,t} · P_j` for the block's `members` slices and every shift: four shifts by two
    /// slices per pass over the coefficients (`dotProducts4x2`, each value bit-identical to `dotProduct`), which
    /// loads each vector once for several products.
    @inline(__always)
    static func linearTerms(image i: Int, prepared: PreparedImages, slices: UnsafePointer<Float>, members: Int,
                            shiftCount: Int, into out: UnsafeMutablePointer<Double>) {
        let stride = prepared.stride
        var t0 = 0
        while t0 < shiftCount {
            let shifts = min(4, shiftCount - t0)
            var j0 = 0
            while j0 < members {
                let rows = min(2, members - j0)
                if shifts == 4 && rows == 2 {
                    dotProducts4x2(prepared.linear(image: i, shift: t0), prepared.linear(image: i, shift: t0 + 1),
                                   prepared.linear(image: i, shift: t0 + 2), prepared.linear(image: i, shift: t0 + 3),
                                   slices + j0 * stride, slices + (j0 + 1) * stride, count: stride,
                                   into: out + j0 * shiftCount + t0, rowStride: shiftCount)
                } else {
                    for r in 0..<rows {
                        for s in 0..<shifts {
                            out[(j0 + r) * shiftCount + t0 + s] = dotProduct(prepared.linear(image: i, shift: t0 + s),
                                                                             slices + (j0 + r) * stride, count: stride)
                        }
                    }
                }
                j0 += rows
            }
            t0 += shifts
        }
    }
}

/// The largest of `count` values (at least one; exact, so the order of comparisons does not matter).
@inline(__always)
func maximum(_ values: UnsafePointer<Double>, count: Int) -> Double {
    var lanes = SIMD8<Double>(repeating: -.infinity)
    var e = 0
    while e + 8 <= count {
        lanes = pointwiseMax(lanes, UnsafeRawPointer(values + e).loadUnaligned(as: SIMD8<Double>.self))
        e += 8
    }
    var m = lanes.max()
    while e < count {
        m = max(m, values[e])
        e += 1
    }
    return m
}

/// Zeroes `stride − filled` floats after the first `filled` of each of `rows` rows of `stride` floats: the padding
/// of compact coefficient arrays whose coefficients are all written before they are read.
func zeroPadding(_ base: UnsafeMutablePointer<Float>, rows: Int, stride: Int, filled: Int) {
    for row in 0..<rows { (base + row * stride + filled).initialize(repeating: 0, count: stride - filled) }
}

/// One pose that survived a block's threshold.
struct PoseCandidate: Sendable {
    var image: Int32
    var rotation: Int32
    var shift: Int32
    var logLikelihood: Double
    var scale: Float
}

/// The best contrast scale of one pose, `α = max(0, (b + κ)/(2q + κ))`, and the log-likelihood there,
/// `α·b − α²·q − κ(α − 1)²/2` (relative to the image constant `c`), for the linear term `b`, the quadratic term `q`
/// and the prior precision `κ` of `α ~ N(1, 1/κ)`.
struct ScaledFit {
    let scale: Double
    let logLikelihood: Double

    @inline(__always)
    init(linear b: Double, quadratic q: Double, priorPrecision kappa: Double) {
        let a = max(0, (b + kappa) / (2 * q + kappa))
        scale = a
        logLikelihood = a * b - a * a * q - 0.5 * kappa * (a - 1) * (a - 1)
    }
}

/// The annulus `minRadius² ≤ kx² + ky² ≤ radius²` of the centred half plane as a compact list of coefficients.
struct AnnulusLayout: Sendable {
    let box: Int
    /// Half-plane index (`row · (box/2+1) + kx`), frequency, shell and Friedel weight of each coefficient.
    let halfPlaneIndex: [Int32]
    let kx: [Int32]
    let ky: [Int32]
    let shell: [Int32]
    let friedel: [Float]
    let maxShell: Int
    /// Number of coefficients `n`.
    var count: Int { halfPlaneIndex.count }
    /// Floats per compact complex array: `2n` rounded up to a multiple of 32 (zero padded).
    let paddedFloats: Int

    init(box: Int, radius: Int, minRadius: Double) {
        self.box = box
        let hx = box / 2 + 1
        var index = [Int32](), xs = [Int32](), ys = [Int32](), shells = [Int32](), weights = [Float]()
        let r2 = radius * radius
        var maxShell = 0
        for row in 0..<box {
            // Same row → frequency rule as the slice kernel (rows ≤ box/2 positive).
            let y = row <= box / 2 ? row : row - box
            for x in 0..<hx {
                let k2 = x * x + y * y
                if k2 > r2 || Double(k2) < minRadius * minRadius { continue }
                index.append(Int32(row * hx + x))
                xs.append(Int32(x))
                ys.append(Int32(y))
                let s = Int(Double(k2).squareRoot().rounded())
                shells.append(Int32(s))
                maxShell = max(maxShell, s)
                weights.append(x == 0 || (box % 2 == 0 && x == box / 2) ? 1 : 2)
            }
        }
        halfPlaneIndex = index
        kx = xs
        ky = ys
        shell = shells
        friedel = weights
        self.maxShell = maxShell
        paddedFloats = (2 * index.count + 31) / 32 * 32
    }

    /// `f_n / σ²_n` for each coefficient `n` of the annulus: its Friedel weight over its noise variance.
    func inverseVariances(_ noise: NoiseSpectrum) -> [Double] {
        precondition(noise.covers(box: box, maxShell: maxShell), "AnnulusLayout: σ² missing for a \(box)² image to shell \(maxShell)")
        return (0..<count).map {
            Double(friedel[$0]) / noise.variance(halfPlaneIndex: Int(halfPlaneIndex[$0]), shell: Int(shell[$0]))
        }
    }

    /// Copies the annulus of a half plane into `out` (interleaved re, im; padding left untouched).
    @inline(__always)
    func gather(_ halfPlane: UnsafePointer<SIMD2<Float>>, into out: UnsafeMutablePointer<Float>) {
        halfPlaneIndex.withUnsafeBufferPointer { idx in
            let o = UnsafeMutableRawPointer(out).assumingMemoryBound(to: SIMD2<Float>.self)
            for e in 0..<idx.count { o[e] = halfPlane[Int(idx[e])] }
        }
    }
}

/// Per image: the constant `c`, `Q` (as interleaved pairs `(Q_k, Q_k)`, to dot with `P ∘ P`) and per shift `B`.
final class PreparedImages: @unchecked Sendable {
    let stride: Int
    let shiftCount: Int
    /// `c_i = −Σ f |X|² / (2σ²)`.
    var constant: [Double]
    let quadraticTerms: UnsafeMutablePointer<Float>
    let linearTerms: UnsafeMutablePointer<Float>

    init(images: PoseImageBatch, layout: AnnulusLayout, shifts: [SIMD2<Double>], noiseVariance: NoiseSpectrum,
         threads: Int?) {
        let n = layout.count, box = images.box
        stride = layout.paddedFloats
        shiftCount = shifts.count
        let imageCount = images.count
        quadraticTerms = .allocate(capacity: imageCount * stride)
        linearTerms = .allocate(capacity: imageCount * shiftCount * stride)
        // The coefficients are all written below; only the padding to `stride` needs zeros.
        zeroPadding(quadraticTerms, rows: imageCount, stride: stride, filled: 2 * n)
        zeroPadding(linearTerms, rows: imageCount * shiftCount, stride: stride, filled: 2 * n)
        // conj(S_t(k)) = exp(+2πi k·t / box), per shift and coefficient: the product of a factor per kx and one
        // per ky (a few hundred sines per shift instead of one per coefficient).
        let maxX = Int(layout.kx.max() ?? 0), maxY = Int(layout.ky.map(abs).max() ?? 0)
        func factors(_ shift: Double, _ range: ClosedRange<Int>) -> [SIMD2<Double>] {
            range.map { k in
                let a = 2 * Double.pi * Double(k) * shift / Double(box)
                return SIMD2(cos(a), sin(a))
            }
        }
        var phaseTable = [SIMD2<Double>](repeating: .zero, count: shiftCount * n)
        for t in 0..<shiftCount {
            let fx = factors(shifts[t].x, 0...maxX), fy = factors(shifts[t].y, -maxY...maxY)
            for e in 0..<n {
                let a = fx[Int(layout.kx[e])], b = fy[Int(layout.ky[e]) + maxY]
                phaseTable[t * n + e] = SIMD2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x)
            }
        }
        let phases = phaseTable
        // f/σ² per coefficient.
        let inverseVariance = layout.inverseVariances(noiseVariance)
        let constants = UnsafeMutablePointer<Double>.allocate(capacity: imageCount)
        defer { constants.deallocate() }
        nonisolated(unsafe) let q = quadraticTerms, lin = linearTerms, cs = constants
        let stride = self.stride, shiftCount = self.shiftCount
        withExtendedLifetime(images) {
            ParallelFor.run(count: imageCount, threads: threads) { range in
                for i in range {
                    let x = images.spectrum(i), ctf = images.ctf(i)
                    var c = 0.0
                    let qi = q + i * stride
                    for e in 0..<n {
                        let h = Int(layout.halfPlaneIndex[e])
                        let xv = SIMD2<Double>(x[h]), cv = Double(ctf[h]), w = inverseVariance[e]
                        c -= 0.5 * w * (xv * xv).sum()
                        let qv = Float(0.5 * w * cv * cv)
                        qi[2 * e] = qv
                        qi[2 * e + 1] = qv
                        let scaled = w * cv * xv
                        for t in 0..<shiftCount {
                            let p = phases[t * n + e]
                            let b = SIMD2(scaled.x * p.x - scaled.y * p.y, scaled.x * p.y + scaled.y * p.x)
                            let o = lin + (i * shiftCount + t) * stride
                            o[2 * e] = Float(b.x)
                            o[2 * e + 1] = Float(b.y)
                        }
                    }
                    cs[i] = c
                }
            }
        }
        constant = Array(UnsafeBufferPointer(start: constants, count: imageCount))
    }

    deinit {
        quadraticTerms.deallocate()
        linearTerms.deallocate()
    }

    @inline(__always) func quadratic(image i: Int) -> UnsafePointer<Float> { UnsafePointer(quadraticTerms + i * stride) }
    @inline(__always) func linear(image i: Int, shift t: Int) -> UnsafePointer<Float> {
        UnsafePointer(linearTerms + (i * shiftCount + t) * stride)
    }
}

/// Per (block, image) statistics, written by disjoint workers.
final class BlockStatistics: @unchecked Sendable {
    let images: Int
    let values: UnsafeMutablePointer<Double>   // (max, sum, sumSquares) per (block, image)

    init(blocks: Int, images: Int) {
        self.images = images
        values = .allocate(capacity: 3 * blocks * images)
        values.initialize(repeating: 0, count: 3 * blocks * images)
    }

    deinit { values.deallocate() }

    @inline(__always) func set(block: Int, image: Int, max: Double, sum: Double, sumSquares: Double) {
        let v = values + 3 * (block * images + image)
        v[0] = max; v[1] = sum; v[2] = sumSquares
    }
    func max(block: Int, image: Int) -> Double { values[3 * (block * images + image)] }
    func sum(block: Int, image: Int) -> Double { values[3 * (block * images + image) + 1] }
    func sumSquares(block: Int, image: Int) -> Double { values[3 * (block * images + image) + 2] }
}

/// One worker's buffers for scoring a block of rotations, and the poses it kept (over every block it scored).
final class BlockScratch: @unchecked Sendable {
    let halfPlane: UnsafeMutablePointer<SIMD2<Float>>
    /// The block's compact slices, then their squares.
    let slices: UnsafeMutablePointer<Float>
    var sliceSquares: UnsafeMutablePointer<Float> { slices + block * stride }
    /// Log-likelihood and contrast scale of each (rotation, shift) of the block; the quadratic term per rotation.
    let ll: UnsafeMutablePointer<Double>
    let scales: UnsafeMutablePointer<Double>
    let quad: UnsafeMutablePointer<Double>
    /// Kept poses in chunks of fixed capacity: a broad posterior keeps millions, and one growing array would be
    /// copied into fresh memory at every doubling.
    private(set) var found = [[PoseCandidate]]()
    private static let chunk = 1 << 16

    @inline(__always) func keep(_ candidate: PoseCandidate) {
        if found.isEmpty || found[found.count - 1].count == Self.chunk {
            found.append([])
            found[found.count - 1].reserveCapacity(Self.chunk)
        }
        found[found.count - 1].append(candidate)
    }
    private let block: Int, stride: Int

    /// Buffers for slices of `filled` floats (the annulus' `2n`) padded with zeros to `stride`.
    init(box: Int, block: Int, stride: Int, filled: Int, shiftCount: Int) {
        self.block = block
        self.stride = stride
        halfPlane = .allocate(capacity: box * (box / 2 + 1))
        slices = .allocate(capacity: 2 * block * stride)
        // Only the padding needs zeros: each slice and square is written up to `filled` before it is read.
        zeroPadding(slices, rows: 2 * block, stride: stride, filled: filled)
        ll = .allocate(capacity: block * shiftCount)
        scales = .allocate(capacity: block * shiftCount)
        scales.initialize(repeating: 1, count: block * shiftCount)
        quad = .allocate(capacity: block)
    }

    deinit {
        halfPlane.deallocate(); slices.deallocate(); ll.deallocate(); scales.deallocate(); quad.deallocate()
    }
}
