import DuetCore
import Foundation

/// A map prepared for Fourier-slice projection (RELION's `Projector` with `TRILINEAR` interpolation):
/// gridding-corrected, zero-padded, centred and Fourier transformed, with the half-space `x ≥ 0` of the
/// oversampled spectrum kept as `SIMD2<Float>` (real, imaginary) inside the sphere of image radius
/// `grid.maxRadius_px` (layout and units in `FourierGrid`).
///
/// Projections are written as centred half-plane spectra of the image box (`box` rows of `box/2 + 1`, FFTW order,
/// coefficients about the image centre `box/2`, see `FourierCentring`), equal to the unnormalised DFT of the
/// line-integral projection: `RealFFT.inverseCentred` turns one into the projection image (sum along the beam).
///
/// Thread-safety: projecting only reads the volume; any number of threads may project at once. `data` may be
/// modified (e.g. by a refinement update) when no projection runs.
public final class FourierVolume: @unchecked Sendable {
    /// Geometry and storage layout.
    public let grid: FourierGrid
    /// The stored coefficients, `grid.count` of them (see `FourierGrid` for the index).
    public let data: AlignedBuffer<SIMD2<Float>>

    /// An all-zero volume on `grid` (to be filled through `data`, e.g. from a reconstruction or a test).
    public init(grid: FourierGrid) {
        self.grid = grid
        data = AlignedBuffer(count: grid.count)
    }

    /// Prepares `map` (`box³` voxels, x fastest, origin at `box/2`) as RELION does: divide by the trilinear
    /// gridding correction (`GriddingCorrection`, optional), zero-pad to `grid.paddedBox`, transform with
    /// `RealFFT` (unnormalised, about the centre) and keep the coefficients of padded radius ≤ `grid.sphereRadius`.
    /// The 3-D FFT uses `fftwThreads` threads.
    public convenience init(map: [Float], grid: FourierGrid, griddingCorrection: Bool = true, fftwThreads: Int? = nil) {
        let box = grid.box, padded = grid.paddedBox
        precondition(map.count == box * box * box, "FourierVolume: map has \(map.count) voxels, box is \(box)")
        self.init(grid: grid)
        let real = AlignedBuffer<Float>(count: padded * padded * padded)
        let shift = padded / 2 - box / 2
        map.withUnsafeBufferPointer { m in
            for z in 0..<box {
                for y in 0..<box {
                    let src = m.baseAddress! + box * (y + box * z)
                    let dst = real.baseAddress + shift + padded * ((y + shift) + padded * (z + shift))
                    dst.update(from: src, count: box)
                }
            }
        }
        if griddingCorrection {
            for z in 0..<box {
                for y in 0..<box {
                    for x in 0..<box {
                        let dx = Double(x - box / 2), dy = Double(y - box / 2), dz = Double(z - box / 2)
                        let r = (dx * dx + dy * dy + dz * dz).squareRoot()
                        let i = (x + shift) + padded * ((y + shift) + padded * (z + shift))
                        real[i] /= Float(GriddingCorrection.factor(radius: r, paddedBox: padded))
                    }
                }
            }
        }
        let fft = RealFFT<Float>(cube: padded, rigor: .estimate, fftwThreads: fftwThreads ?? ParallelFor.defaultThreads)
        let spectrum = AlignedBuffer<SIMD2<Float>>(count: fft.complexCount)
        fft.forwardCentred(real.baseAddress, spectrum.baseAddress)
        load(fftwHalfSpectrum: spectrum.baseAddress)
    }

    /// Copies the coefficients of padded radius ≤ `grid.sphereRadius` from a centred FFTW half-spectrum of the
    /// padded cube (`paddedBox² · (paddedBox/2 + 1)`), zero elsewhere.
    func load(fftwHalfSpectrum s: UnsafePointer<SIMD2<Float>>) {
        let p = grid.paddedBox, hp = p / 2 + 1, h = grid.halfExtent
        let r2 = grid.sphereRadius * grid.sphereRadius
        data.zero()
        for z in -h...h {
            for y in -h...h {
                for x in 0...h where x * x + y * y + z * z <= r2 {
                    let iy = FourierIndexing.index(frequency: y, size: p) % p
                    let iz = FourierIndexing.index(frequency: z, size: p) % p
                    data[grid.index(x: x, y: y, z: z)] = s[x + hp * (iy + p * iz)]
                }
            }
        }
    }

    /// The largest modulus of a stored coefficient: no projection value exceeds it (trilinear interpolation
    /// averages cells and a translation keeps the modulus). One pass over `data` on `threads` workers.
    public func maxModulus(threads: Int? = nil) -> Double {
        let count = data.count, chunk = 1 << 16
        let chunkMaxima = AlignedBuffer<Float>(count: (count + chunk - 1) / chunk)
        nonisolated(unsafe) let values = data.baseAddress, maxima = chunkMaxima.baseAddress
        withExtendedLifetime(data) {
            ParallelFor.run(count: chunkMaxima.count, threads: threads) { chunks in
                for c in chunks {
                    var m: Float = 0
                    for i in (c * chunk)..<min(count, (c + 1) * chunk) { m = max(m, (values[i] * values[i]).sum()) }
                    maxima[c] = m
                }
            }
        }
        return Double(chunkMaxima.buffer.max() ?? 0).squareRoot()
    }

    /// Writes the central slice for `rotation` into `output`, a half-plane of `grid.box` rows of `box/2 + 1`
    /// complex values (centred coefficients of the image; or of `layout`'s rows, `SliceLayout`), by trilinear
    /// interpolation; coefficients of image radius > `radius_px` (default `grid.maxRadius_px`) are set to zero, and
    /// only those inside are computed.
    ///
    /// `translation_px` translates the projection by that many pixels (+x moves content towards larger column
    /// index): coefficient `k` is multiplied by `exp(−2πi k·t/box)`. RELION's `rlnOriginX/YAngst` origin `o` (Å)
    /// means the particle image shifted by `+o` matches the projection, so the projection that simulates that
    /// particle (what `relion_project` writes) uses `translation_px = −o / pixelSize_A`.
    /// Does not allocate.
    public func project(rotation: Rotation, translation_px: SIMD2<Double> = .zero, radius_px: Int? = nil,
                        layout: SliceLayout? = nil, into output: UnsafeMutablePointer<SIMD2<Float>>) {
        let r = radius_px ?? grid.maxRadius_px
        precondition(r >= 0 && r <= grid.maxRadius_px, "FourierVolume.project: radius \(r) > \(grid.maxRadius_px)")
        let layoutBox = (layout ?? SliceLayout(box: grid.box)).box
        precondition(layoutBox == grid.box || 2 * r < layoutBox, "FourierVolume.project: layout too small for radius \(r)")
        let geometry = SliceGeometry(rotation: rotation, scale: grid.scale)
        withExtendedLifetime(data) {
            TranslationPhases.with(translation: translation_px, box: grid.box, layoutBox: layoutBox) { px, py in
                extractSlice(volume: data.baseAddress, grid: grid, geometry: geometry, radius: r, layoutBox: layoutBox,
                             phaseX: px, phaseY: py, out: output)
            }
        }
    }

    /// Projects `rotations.count` slices on `threads` workers (default: all cores): slice `i` goes to
    /// `output + i · outputStride` (stride in complex elements, ≥ the layout's count) with translation
    /// `translations_px?[i]` (see `project(rotation:translation_px:radius_px:layout:into:)`).
    public func project(rotations: [Rotation], translations_px: [SIMD2<Double>]? = nil, radius_px: Int? = nil,
                        layout: SliceLayout? = nil, into output: UnsafeMutablePointer<SIMD2<Float>>, outputStride: Int,
                        threads: Int? = nil) {
        precondition(outputStride >= (layout ?? SliceLayout(box: grid.box)).complexCount,
                     "FourierVolume.project: stride too small")
        precondition(translations_px == nil || translations_px!.count == rotations.count)
        nonisolated(unsafe) let output = output
        ParallelFor.run(count: rotations.count, threads: threads) { range in
            for i in range {
                self.project(rotation: rotations[i], translation_px: translations_px?[i] ?? .zero,
                             radius_px: radius_px, layout: layout, into: output + i * outputStride)
            }
        }
    }
}
