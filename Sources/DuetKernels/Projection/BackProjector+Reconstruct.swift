import Foundation

extension BackProjector {
    /// Direct Fourier reconstruction from the accumulated slices, returned as a real-space map of `grid.box³`
    /// voxels (x fastest, origin at `box/2`), on the scale of the map the slices were projected from. It follows
    /// RELION 3.1's `BackProjector::reconstruct` as `relion_reconstruct` calls it (no `--fsc`, so no tau² / Wiener
    /// term: `do_map` false, and `Fweight` is used only through the gridding weights):
    /// 1. Friedel completion of the `x = 0` plane: `(0, y, z)` and `(0, −y, −z)` are summed (each received only
    ///    its own side's insertions), as RELION's `enforceHermitianSymmetry` does.
    /// 2. Only padded frequencies with `r² < R²`, `R = round(padding · r_max)` (`grid.sphereRadius`, RELION's
    ///    `max_r2`), are kept.
    /// 3. `griddingIterations > 0` (RELION's default, `--iter 10`): the coefficients are `numerator · W` with `W`
    ///    the iterative (Pipe–Menon) gridding weights of `IterativeGriddingWeights`, which make the blob-smoothed,
    ///    weighted sampling density flat. This keeps voxels that only the far corners of trilinear kernels reached
    ///    at their small share instead of blowing their few noisy samples up to full amplitude, as
    ///    `numerator/weight` does.
    ///    `griddingIterations == 0` (RELION's `--skip_gridding`): `numerator / max(weight, ⟨weight⟩_shell / 1000)`
    ///    for `r² ≤ R²`, the shell average over `floor(r / padding)` (RELION's minimum weight against divisions by
    ///    (near) zero).
    /// 4. Inverse FFT of the padded cube (as `RealFFT.inverseCentred`), keep the central `box³` (RELION's
    ///    `windowToOridimRealSpace`; its normalisation `padding³·box` undoes its normalised 2-D image FFTs, which
    ///    Duet does not make, so nothing is divided here beyond the inverse FFT's own `1/P³`).
    /// 5. RELION's `softMaskOutsideMap` with its defaults: voxels beyond radius `box/2` (the corners) are blended,
    ///    over a 3-voxel raised cosine, into the mean of that outer region, which removes the noise and aliasing
    ///    that the corners of the cube would otherwise carry.
    /// 6. If `griddingCorrection`, divide by `GriddingCorrection` (sinc² of the trilinear interpolation, RELION's
    ///    `griddingCorrect`), after the mask as in RELION.
    ///
    /// Differences from RELION, both outside this function's reach or immaterial: `relion_reconstruct` zeroes each
    /// image's DC before inserting it (so its map has mean ≈ 0; Duet keeps the mean), and RELION's Hermitian
    /// completion leaves the DC sample as it is where Duet counts it for both Friedel halves (step 1).
    ///
    /// Measured against `relion_reconstruct --ctf` on the simulated `tiny` (box 48) and `small` (box 64) bench sets
    /// at the true poses: FSC against the truth within −0.003…+0.001 of RELION's at every shell (the former
    /// `numerator/(weight + λ)` was up to 0.11 below); FSC between the two programs' maps ≥ 0.996 up to the last two
    /// shells and ≥ 0.977 at Nyquist; least-squares scale equal to RELION's to 0.01 %. `ReconstructionQualityTests`
    /// checks this on its own data.
    ///
    /// Cost: `griddingIterations` pairs of 3-D FFTs of edge `N` ≈ `P + 3…P + 16` (P = `grid.paddedBox`; see
    /// `FFTSize.even`) plus one of edge `P`: measured 0.15 s at box 48 (N = 100) and
    /// 0.35–0.7 s at box 64 (N = 144) on two shared cores, against 0.03–0.05 s for the former direct division.
    public func reconstruct(griddingIterations: Int = 10, griddingCorrection: Bool = true,
                            fftwThreads: Int? = nil) -> [Float] {
        precondition(griddingIterations >= 0, "BackProjector.reconstruct: griddingIterations < 0")
        let g = grid, h = g.halfExtent, p = g.paddedBox, hp = p / 2 + 1, box = g.box
        let threads = fftwThreads ?? ParallelFor.defaultThreads
        let n = AlignedBuffer<SIMD2<Float>>(count: g.count)
        let w = AlignedBuffer<Float>(count: g.count)
        n.baseAddress.update(from: numerator.baseAddress, count: g.count)
        w.baseAddress.update(from: weight.baseAddress, count: g.count)
        for z in -h...h {
            for y in -h...h where z < 0 || (z == 0 && y < 0) {
                let a = g.index(x: 0, y: y, z: z), b = g.index(x: 0, y: -y, z: -z)
                let sum = n[a] + SIMD2(n[b].x, -n[b].y)
                n[a] = sum
                n[b] = SIMD2(sum.x, -sum.y)
                let ws = w[a] + w[b]
                w[a] = ws
                w[b] = ws
            }
        }
        let dc = g.index(x: 0, y: 0, z: 0)   // its own Friedel mate (RELION leaves it single; see above)
        n[dc] = SIMD2(2 * n[dc].x, 0)
        w[dc] = 2 * w[dc]

        let fft = RealFFT<Float>(cube: p, rigor: .estimate, fftwThreads: threads)
        let spectrum = AlignedBuffer<SIMD2<Float>>(count: fft.complexCount)
        spectrum.zero()
        @inline(__always) func paddedIndex(_ x: Int, _ y: Int, _ z: Int) -> Int {
            x + hp * (FourierIndexing.index(frequency: y, size: p) + p * FourierIndexing.index(frequency: z, size: p))
        }
        // The coefficients are about the map centre; the plain inverse FFT wants them about index 0. For the even
        // `P` that is `FourierCentring.decentre`'s sign flip (−1)^(x+y+z), applied here while filling (one pass
        // over the padded cube less, and no generic complex arithmetic, which is slow in unoptimised builds).
        precondition(p % 2 == 0, "BackProjector.reconstruct: odd padded box \(p)")
        @inline(__always) func centringSign(_ x: Int, _ y: Int, _ z: Int) -> Float { (x + y + z) & 1 == 0 ? 1 : -1 }
        if griddingIterations > 0 {
            let gridding = IterativeGriddingWeights(weight: w.baseAddress, grid: g, iterations: griddingIterations,
                                                    fftwThreads: threads)
            // W is huge (up to 10⁶ per iteration) only where the weight is ~0 and so is the numerator; a
            // coefficient that still overflows (numerator without weight) is dropped, like an unsampled one.
            // (Interleaved float pointers rather than SIMD2 elements, which are slow in unoptimised test builds.)
            let numeratorFloats = UnsafeRawPointer(n.baseAddress).assumingMemoryBound(to: Float.self)
            let spectrumFloats = UnsafeMutableRawPointer(spectrum.baseAddress).assumingMemoryBound(to: Float.self)
            IterativeGriddingWeights.forEachSphereRow(radius: g.sphereRadius) { y, z, length in
                let source = numeratorFloats + 2 * g.index(x: 0, y: y, z: z)
                let target = spectrumFloats + 2 * paddedIndex(0, y, z)
                let weights = gridding.row(y: y, z: z)
                var sign = Double(centringSign(0, y, z)), x = 0
                while x < length {
                    let re = Float(Double(source[2 * x]) * weights[x] * sign)
                    let im = Float(Double(source[2 * x + 1]) * weights[x] * sign)
                    let finite = re.isFinite && im.isFinite
                    target[2 * x] = finite ? re : 0
                    target[2 * x + 1] = finite ? im : 0
                    sign = -sign
                    x += 1
                }
            }
        } else {
            Self.divideBySkipGriddingWeight(n: n, w: w, grid: g) { x, y, z, value in
                // |y| or |z| = P/2 (a few points on the sphere r = R itself, at padding 2) would alias ± on the
                // padded cube, which RELION's windowing to P cannot keep apart either: they are left out.
                guard 2 * abs(y) < p && 2 * abs(z) < p else { return }
                spectrum[paddedIndex(x, y, z)] = value * centringSign(x, y, z)
            }
        }

        let padded = AlignedBuffer<Float>(count: fft.realCount)
        fft.inverse(spectrum.baseAddress, padded.baseAddress)
        let shift = p / 2 - box / 2
        var map = [Float](repeating: 0, count: box * box * box)
        map.withUnsafeMutableBufferPointer { m in
            for z in 0..<box {
                for y in 0..<box {
                    let src = padded.baseAddress + shift + p * ((y + shift) + p * (z + shift))
                    (m.baseAddress! + box * (y + box * z)).update(from: src, count: box)
                }
            }
            Self.softMaskOutsideMap(m.baseAddress!, box: box)
            if griddingCorrection { GriddingCorrection.divide(m.baseAddress!, box: box, paddedBox: p) }
        }
        return map
    }

    /// RELION's `--skip_gridding` branch: every coefficient with `r² ≤ R²` (RELION's `decenter` keeps `≤`) is
    /// divided by `max(weight, a)`, `a` = 1/1000 of the mean weight of its shell `floor(r / padding)` (shells over
    /// `r² < round((r_max·padding)²)`; beyond the last, the last shell's value), so that rarely sampled voxels
    /// cannot divide by (near) zero.
    private static func divideBySkipGriddingWeight(n: AlignedBuffer<SIMD2<Float>>, w: AlignedBuffer<Float>,
                                                   grid g: FourierGrid,
                                                   _ store: (Int, Int, Int, SIMD2<Float>) -> Void) {
        let R = g.sphereRadius, rMax = g.maxRadius_px, pad = g.scale
        let averagingLimit = Int((Double(rMax) * pad * Double(rMax) * pad).rounded())
        var sum = [Double](repeating: 0, count: rMax), count = [Double](repeating: 0, count: rMax)
        @inline(__always) func shell(_ r2: Int) -> Int { Int((Double(r2).squareRoot() / pad).rounded(.down)) }
        // RELION sums over its whole FFTW half-transform (x ≥ 0, y and z over the full cube): the same points.
        for z in -R...R {
            for y in -R...R {
                for x in 0...R {
                    let r2 = x * x + y * y + z * z
                    guard r2 < averagingLimit else { continue }
                    let s = shell(r2)
                    guard s < rMax else { continue }
                    sum[s] += Double(w[g.index(x: x, y: y, z: z)])
                    count[s] += 1
                }
            }
        }
        let floor = (0..<rMax).map { count[$0] > 0 ? Float(sum[$0] / (1000 * count[$0])) : 0 }
        for z in -R...R {
            for y in -R...R {
                for x in 0...R {
                    let r2 = x * x + y * y + z * z
                    guard r2 <= R * R else { continue }
                    let i = g.index(x: x, y: y, z: z)
                    let d = max(w[i], floor[min(shell(r2), rMax - 1)])
                    store(x, y, z, d > 0 ? n[i] / d : .zero)
                }
            }
        }
    }

    /// RELION's `softMaskOutsideMap(vol)` with its defaults (radius `box/2` as a real number, cosine width 3),
    /// applied to the windowed map before the gridding correction: the mean `b` of the region outside the radius
    /// (weighted by the raised cosine `c(r) = ½ + ½·cos(π (radius + 3 − r)/3)` in the edge, 1 beyond it) is
    /// computed, then each voxel becomes `(1 − c)·v + c·b` (just `b` beyond `radius + 3`). Only the cube's corners
    /// lie beyond `box/2`, so the particle is untouched.
    static func softMaskOutsideMap(_ map: UnsafeMutablePointer<Float>, box: Int) {
        let c = box / 2, radius = Double(box) / 2, width = 3.0, outer = radius + width
        @inline(__always) func raisedCosine(_ r: Double) -> Double { 0.5 + 0.5 * cos(Double.pi * (outer - r) / width) }
        var sum = 0.0, sumBackground = 0.0
        for pass in 0..<2 {
            let background = Float(sum > 0 ? sumBackground / sum : 0)
            for z in 0..<box {
                for y in 0..<box {
                    let yz = (y - c) * (y - c) + (z - c) * (z - c)
                    for x in 0..<box {
                        let r = Double((x - c) * (x - c) + yz).squareRoot()
                        guard r >= radius else { continue }
                        let i = x + box * (y + box * z)
                        let weight = r > outer ? 1 : raisedCosine(r)
                        if pass == 0 {
                            sum += weight
                            sumBackground += weight * Double(map[i])
                        } else {
                            map[i] = r > outer
                                ? background : Float((1 - weight) * Double(map[i]) + weight * Double(background))
                        }
                    }
                }
            }
        }
    }
}
