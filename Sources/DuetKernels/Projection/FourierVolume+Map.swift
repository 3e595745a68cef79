import Foundation

extension FourierVolume {
    /// The real-space map held by this volume: `grid.box³` voxels, x fastest, origin at `box/2` (the layout
    /// `init(map:grid:griddingCorrection:fftwThreads:)` takes), on the same scale as that map.
    ///
    /// It is the inverse of `init(map:…)`, step by step:
    /// 1. the stored coefficients of padded radius ≤ `grid.sphereRadius` (centred, about the map centre) are placed
    ///    into the padded cube's FFTW half-spectrum (`paddedBox² · (paddedBox/2 + 1)`), zero elsewhere; the
    ///    even-size Nyquist frequencies `±paddedBox/2` of the y and z axes share one FFTW element, which receives
    ///    the mean of the two stored values (both are equal when `data` came from `init(map:)`);
    /// 2. centred inverse transform (`RealFFT.inverseCentred`, estimated plan, divided by `paddedBox³`, as
    ///    `RealFFT` defines it), so that `forwardCentred` of the result gives those coefficients back;
    /// 3. the central `box³` window (voxel `box/2` of the map is voxel `paddedBox/2` of the padded cube);
    /// 4. if `griddingCorrection`, multiplication by `GriddingCorrection.factor` (the `sinc²` that `init` divided
    ///    by), so a map that round-trips must use the same flag both ways.
    ///
    /// `map(init(m))` reproduces `m` to rounding when `m` is band-limited to the sphere of image radius
    /// `grid.maxRadius_px` and vanishes smoothly before the edge of its box (only then is the zero-padded map's
    /// spectrum contained in the stored sphere). `data` is only read; the 3-D FFT uses `fftwThreads` threads
    /// (default: all cores). Cost: one inverse FFT of edge `paddedBox` plus `O(box³)`.
    public func map(griddingCorrection: Bool = true, fftwThreads: Int? = nil) -> [Float] {
        let g = grid, box = g.box, p = g.paddedBox, hp = p / 2 + 1
        let radius = g.sphereRadius, r2max = radius * radius
        let limit = min(g.halfExtent, radius, p / 2)
        let fft = RealFFT<Float>(cube: p, rigor: .estimate, fftwThreads: fftwThreads ?? ParallelFor.defaultThreads)
        let spectrum = AlignedBuffer<SIMD2<Float>>(count: fft.complexCount)
        let real = AlignedBuffer<Float>(count: fft.realCount)
        withExtendedLifetime(data) {
            let s = spectrum.baseAddress, d = data.baseAddress
            for z in -limit...limit {
                let iz = FourierIndexing.index(frequency: z, size: p) % p
                let wz: Float = 2 * abs(z) == p ? 0.5 : 1
                for y in -limit...limit {
                    let yz = y * y + z * z
                    guard yz <= r2max else { continue }
                    let iy = FourierIndexing.index(frequency: y, size: p) % p
                    let w = (2 * abs(y) == p ? 0.5 : 1) * wz
                    let row = s + hp * (iy + p * iz)
                    var x = 0
                    while x <= limit && x * x + yz <= r2max {
                        row[x] += w * d[g.index(x: x, y: y, z: z)]
                        x += 1
                    }
                }
            }
        }
        fft.inverseCentred(spectrum.baseAddress, real.baseAddress)

        let shift = p / 2 - box / 2, c = box / 2
        // sinc² depends on the integer r² only: one table entry per r² ≤ 3c² (|x − c| ≤ c for x in 0..<box).
        let table: [Float] = griddingCorrection
            ? (0...(3 * c * c)).map { Float(GriddingCorrection.factor(radius: Double($0).squareRoot(), paddedBox: p)) }
            : []
        var map = [Float](repeating: 0, count: box * box * box)
        map.withUnsafeMutableBufferPointer { m in
            let out = m.baseAddress!
            for z in 0..<box {
                for y in 0..<box {
                    let src = real.baseAddress + shift + p * ((y + shift) + p * (z + shift))
                    let dst = out + box * (y + box * z)
                    dst.update(from: src, count: box)
                    guard griddingCorrection else { continue }
                    let yz = (y - c) * (y - c) + (z - c) * (z - c)
                    table.withUnsafeBufferPointer { t in
                        for x in 0..<box { dst[x] *= t[(x - c) * (x - c) + yz] }
                    }
                }
            }
        }
        return map
    }
}
