/// 3-D real-to-complex FFT of a cubic volume in double precision for the FSC code, over the shared FFT layer
/// (`RealFFT`, estimated plans so curves are reproducible run to run).
///
/// Layout: real volume `[z][y][x]` (x fastest), `box³` floats; spectrum FFTW half transform `[kz][ky][kx]`,
/// `kx = 0..box/2`, stored interleaved (re, im) as `2 · box · box · (box/2 + 1)` doubles, unnormalised forward
/// transform; `inverse` divides by `box³` so that `inverse(forward(v)) == v` (the `RealFFT` convention).
final class FSCVolumeFFT {
    let box: Int
    let halfCount: Int
    private let fft: RealFFT<Double>
    private let real: AlignedBuffer<Double>
    private let spectrum: AlignedBuffer<SIMD2<Double>>

    init(box: Int) {
        precondition(box > 1, "FSCVolumeFFT: box must be > 1")
        self.box = box
        fft = RealFFT<Double>(cube: box, rigor: .estimate)
        halfCount = fft.complexCount
        real = AlignedBuffer(count: fft.realCount)
        spectrum = AlignedBuffer(count: fft.complexCount)
    }

    /// Forward transform of `volume` (`box³` values), optionally multiplied voxel by voxel by `mask` first.
    func forward(_ volume: UnsafeBufferPointer<Float>, mask: UnsafeBufferPointer<Float>? = nil) -> [Double] {
        let n = box * box * box
        precondition(volume.count == n, "FSC: volume has \(volume.count) voxels, expected \(n)")
        if let mask {
            precondition(mask.count == n, "FSC: mask has \(mask.count) voxels, expected \(n)")
            for i in 0..<n { real[i] = Double(volume[i]) * Double(mask[i]) }
        } else {
            for i in 0..<n { real[i] = Double(volume[i]) }
        }
        fft.forward(real.baseAddress, spectrum.baseAddress)
        return [Double](unsafeUninitializedCapacity: 2 * halfCount) { out, initialized in
            UnsafeMutableRawPointer(out.baseAddress!).copyMemory(from: spectrum.baseAddress,
                                                                  byteCount: halfCount * MemoryLayout<SIMD2<Double>>.stride)
            initialized = 2 * halfCount
        }
    }

    /// Inverse transform of a half spectrum (interleaved, `2 · halfCount` doubles), normalised by `1/box³`.
    func inverse(_ halfSpectrum: [Double]) -> [Float] {
        precondition(halfSpectrum.count == 2 * halfCount)
        halfSpectrum.withUnsafeBytes { bytes in
            UnsafeMutableRawPointer(spectrum.baseAddress).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        }
        fft.inverse(spectrum.baseAddress, real.baseAddress)
        let n = box * box * box
        return [Float](unsafeUninitializedCapacity: n) { out, initialized in
            for i in 0..<n { out[i] = Float(real[i]) }
            initialized = n
        }
    }
}
