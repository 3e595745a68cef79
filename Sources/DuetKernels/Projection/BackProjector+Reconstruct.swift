import Foundation

extension BackProjector {
    /// Direct Fourier reconstruction from the accumulated slices, returned as a real-space map of `grid.box³`
    /// voxels (x fastest, origin at `box/2`), on the scale of the map the slices were projected from:
    /// 1. Friedel completion of the `x = 0` plane: `(0, y, z)` and `(0, −y, −z)` are summed (each received only
    ///    its own side's insertions), as RELION's `enforceHermitianSymmetry` does.
    /// 2. `V = numerator / (weight + λ)` inside the sphere of `grid.sphereRadius`, zero outside, with
    ///    `λ = regularisation × mean(weight > 0)` (a small Tikhonov term that keeps rarely sampled voxels finite).
    /// 3. Inverse FFT of the padded cube (`RealFFT.inverseCentred`), keep the central `box³`.
    /// 4. If `griddingCorrection`, divide by `GriddingCorrection` (RELION divides its reconstruction likewise).
    public func reconstruct(regularisation: Float = 1e-3, griddingCorrection: Bool = true,
                            fftwThreads: Int? = nil) -> [Float] {
        let g = grid, h = g.halfExtent, p = g.paddedBox, hp = p / 2 + 1, box = g.box
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
        let dc = g.index(x: 0, y: 0, z: 0)   // its own Friedel mate
        n[dc] = SIMD2(2 * n[dc].x, 0)
        w[dc] = 2 * w[dc]
        let r2 = g.sphereRadius * g.sphereRadius
        var total = 0.0, filled = 0
        for i in 0..<g.count where w[i] > 0 {
            total += Double(w[i])
            filled += 1
        }
        let lambda = filled > 0 ? regularisation * Float(total / Double(filled)) : regularisation
        let fft = RealFFT<Float>(cube: p, rigor: .estimate, fftwThreads: fftwThreads ?? ParallelFor.defaultThreads)
        let spectrum = AlignedBuffer<SIMD2<Float>>(count: fft.complexCount)
        for z in -h...h {
            for y in -h...h {
                for x in 0...h where x * x + y * y + z * z <= r2 {
                    let i = g.index(x: x, y: y, z: z)
                    let iy = FourierIndexing.index(frequency: y, size: p), iz = FourierIndexing.index(frequency: z, size: p)
                    spectrum[x + hp * (iy + p * iz)] = n[i] / (w[i] + lambda)
                }
            }
        }
        let padded = AlignedBuffer<Float>(count: fft.realCount)
        fft.inverseCentred(spectrum.baseAddress, padded.baseAddress)
        let shift = p / 2 - box / 2
        var map = [Float](repeating: 0, count: box * box * box)
        map.withUnsafeMutableBufferPointer { m in
            for z in 0..<box {
                for y in 0..<box {
                    let src = padded.baseAddress + shift + p * ((y + shift) + p * (z + shift))
                    (m.baseAddress! + box * (y + box * z)).update(from: src, count: box)
                }
            }
            if griddingCorrection { GriddingCorrection.divide(m.baseAddress!, box: box, paddedBox: p) }
        }
        return map
    }
}
