/// How much unexplained low-resolution density an image holds at one place, once the map's best-fitting model of
/// it is taken away: the junk score that sees what a correlation with the map cannot (a neighbour overlapping the
/// particle, debris or an edge in the box, while the particle itself fits well).
///
/// The residual `X − s·C·S_t·P` (`s` fitted by least squares) over the coefficients `0 < |k| ≤ radius_px` of the
/// centred half plane, each divided by its noise `σ_k` (whitened) and brought back to real space (periodic, as
/// the transform is); its power averaged over a `window_px`-square window, at the window where that average is
/// largest, as a multiple of the image's mean residual power:
///
///     h = max_windows mean_window(r²) / mean_image(r²)   (≥ 1)
///
/// Near 1 plus the noise's own fluctuation for an image the map explains; large when a compact blob is left over.
/// Made once per batch of images (it holds a transform's buffers: one caller at a time), then evaluated per image.
public final class ResidualHotspot {
    private let box: Int
    private let window_px: Int
    private let layout: AnnulusLayout
    /// `1/σ_k` and the Friedel weight `f_k` per coefficient of `layout`.
    private let inverseSigmas: [Float]
    private let friedel: [Float]
    private let fft: RealFFT<Float>
    private let spectrum: AlignedBuffer<SIMD2<Float>>
    private let residual: AlignedBuffer<Float>
    /// Row sums of the squared residual over a window, then their column sums (`box`², Double).
    private let rowSums: AlignedBuffer<Double>

    /// `radius_px`: the band of the residual (e.g. the Fourier radius of 20 Å); `window_px`: the window's edge
    /// (odd, at most `box`), e.g. the pixels of 30 Å.
    public init(box: Int, radius_px: Int, window_px: Int, noiseVariance: NoiseSpectrum) {
        precondition(window_px >= 1 && window_px <= box, "ResidualHotspot: window of \(window_px) px in a \(box)² box")
        self.box = box
        self.window_px = window_px
        layout = AnnulusLayout(box: box, radius: radius_px, minRadius: 0.5)
        precondition(noiseVariance.covers(box: box, maxShell: layout.maxShell),
                     "ResidualHotspot: σ² missing for a \(box)² image to shell \(layout.maxShell)")
        let layout = layout
        inverseSigmas = (0..<layout.count).map {
            Float(1 / noiseVariance.variance(halfPlaneIndex: Int(layout.halfPlaneIndex[$0]),
                                             shell: Int(layout.shell[$0])).squareRoot())
        }
        friedel = layout.friedel
        fft = RealFFT<Float>(imageWidth: box, height: box)
        spectrum = AlignedBuffer(count: fft.complexCount)
        residual = AlignedBuffer(count: fft.realCount)
        rowSums = AlignedBuffer(count: fft.realCount)
    }

    /// `h` for `image` and `ctf` (half planes of `box` rows of `box/2 + 1`) against `projection`, the slice at the
    /// pose with its shift already applied. 1 when the image has no residual power in the band.
    public func ratio(image: UnsafePointer<SIMD2<Float>>, ctf: UnsafePointer<Float>,
                      projection: UnsafePointer<SIMD2<Float>>) -> Double {
        // The least-squares scale of the whitened model, then the whitened residual in the band.
        var cross = 0.0, model = 0.0
        for n in 0..<layout.count {
            let k = Int(layout.halfPlaneIndex[n]), w = Double(friedel[n] * inverseSigmas[n] * inverseSigmas[n])
            let m = SIMD2<Double>(projection[k]) * Double(ctf[k])
            cross += w * (SIMD2<Double>(image[k]) * m).sum()
            model += w * (m * m).sum()
        }
        let scale = Float(model > 0 ? cross / model : 0)
        spectrum.zero()
        for n in 0..<layout.count {
            let k = Int(layout.halfPlaneIndex[n])
            spectrum[k] = (image[k] - scale * ctf[k] * projection[k]) * inverseSigmas[n]
        }
        fft.inverse(spectrum.baseAddress, residual.baseAddress)
        return windowedPeakRatio()
    }

    /// The largest mean of `residual²` over a periodic `window_px`-square window, divided by its mean over the
    /// image: running sums along rows into `rowSums`, then along its columns.
    private func windowedPeakRatio() -> Double {
        let n = box, w = window_px, r = residual.baseAddress, rows = rowSums.baseAddress
        var total = 0.0
        for y in 0..<n {
            let line = r + y * n
            var sum = 0.0
            for x in 0..<w { sum += Double(line[x] * line[x]) }
            for x in 0..<n {
                rows[y * n + x] = sum
                total += Double(line[x] * line[x])
                let leaving = line[x], entering = line[(x + w) % n]
                sum += Double(entering * entering) - Double(leaving * leaving)
            }
        }
        guard total > 0 else { return 1 }
        var peak = 0.0
        for x in 0..<n {
            var sum = 0.0
            for y in 0..<w { sum += rows[y * n + x] }
            for y in 0..<n {
                peak = max(peak, sum)
                sum += rows[((y + w) % n) * n + x] - rows[y * n + x]
            }
        }
        return (peak / Double(w * w)) / (total / Double(n * n))
    }
}
