import Foundation

/// Isotropic low-pass filter of a cubic map with a raised-cosine edge, as RELION's `lowPassFilterMap` does it.
///
/// The map is `box³` voxels, x fastest (`index = x + box·(y + box·z)`). Spatial frequency is measured as the radius
/// `|k|` in Fourier pixels of the full box (`k = box · pixelSize_A / d` for a resolution of `d` Å). The transfer
/// function is 1 for `|k| ≤ k_c − w/2`, 0 for `|k| ≥ k_c + w/2` and `½ + ½·cos(π (|k| − k_c + w/2) / w)` between,
/// where `k_c = box · pixelSize_A / resolution_A` and `w = edgeWidth_px` (Fourier pixels). The edge keeps the ringing
/// of a hard cut-off out of the filtered map. Forward and inverse transforms are `RealFFT<Float>` (estimated plans).
public enum LowPassFilter {
    /// The transfer function at Fourier radius `k_px` for a cut-off `cutoff_px` and edge width `edgeWidth_px`
    /// (both in Fourier pixels of the full box; `edgeWidth_px == 0` is a hard cut keeping `k ≤ cutoff`).
    @inlinable
    public static func weight(radius k_px: Double, cutoff_px: Double, edgeWidth_px: Double) -> Double {
        let inner = cutoff_px - edgeWidth_px / 2, outer = cutoff_px + edgeWidth_px / 2
        if k_px <= inner { return 1 }
        if k_px >= outer { return 0 }
        return 0.5 + 0.5 * cos(Double.pi * (k_px - inner) / edgeWidth_px)
    }

    /// Low-passes `map` in place to `resolution_A` (see the type's documentation for the transfer function).
    public static func apply(_ map: inout [Float], box: Int, pixelSize_A: Double, resolution_A: Double,
                             edgeWidth_px: Double = 2) {
        precondition(pixelSize_A > 0 && resolution_A > 0 && edgeWidth_px >= 0,
                     "LowPassFilter: pixel \(pixelSize_A) Å, resolution \(resolution_A) Å, edge \(edgeWidth_px)")
        let cutoff_px = Double(box) * pixelSize_A / resolution_A
        applyShellWeights(&map, box: box) { weight(radius: $0, cutoff_px: cutoff_px, edgeWidth_px: edgeWidth_px) }
    }

    /// Multiplies every Fourier coefficient of `map` by `transfer(|k|)`, `|k|` in Fourier pixels of the full box
    /// (an isotropic filter: a low-pass, or a per-shell Wiener weight).
    public static func applyShellWeights(_ map: inout [Float], box: Int, transfer: (Double) -> Double) {
        precondition(map.count == box * box * box, "LowPassFilter: \(map.count) voxels, box \(box)")
        let fft = RealFFT<Float>(cube: box, rigor: .estimate)
        let real = AlignedBuffer<Float>(count: fft.realCount)
        let spectrum = AlignedBuffer<SIMD2<Float>>(count: fft.complexCount)
        map.withUnsafeBufferPointer { real.baseAddress.update(from: $0.baseAddress!, count: fft.realCount) }
        fft.forward(real.baseAddress, spectrum.baseAddress)
        let hx = box / 2 + 1
        for z in 0..<box {
            let kz = FourierIndexing.signedFrequency(index: z, size: box)
            for y in 0..<box {
                let ky = FourierIndexing.signedFrequency(index: y, size: box)
                let row = spectrum.baseAddress + hx * (y + box * z)
                for x in 0..<hx {
                    let w = transfer(Double(x * x + ky * ky + kz * kz).squareRoot())
                    if w != 1 { row[x] *= Float(w) }
                }
            }
        }
        fft.inverse(spectrum.baseAddress, real.baseAddress)
        map.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: real.baseAddress, count: fft.realCount) }
    }
}
