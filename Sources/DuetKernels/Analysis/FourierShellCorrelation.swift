/// Fourier shell correlation between two real-space volumes of the same cubic box.
///
/// Volumes are `box³` floats in `[z][y][x]` order (x fastest, the MRC / `MRCVolume.data` order). For each shell
/// (`round(|k|)` in Fourier pixels, `k` over the full transform)
///
///     FSC(s) = Σ Re(A·B*) / sqrt(Σ |A|² · Σ |B|²)
///
/// The Fourier transform is `FSCVolumeFFT` (3-D r2c, double precision, over the shared FFT layer).
public enum FourierShellCorrelation {
    /// The FSC curve of `a` and `b` (each `box³` voxels).
    public static func curve(_ a: [Float], _ b: [Float], box: Int, pixelSize_A: Double) -> FSCCurve {
        let fft = FSCVolumeFFT(box: box)
        let shells = FSCShellIndex(box: box)
        let fa = a.withUnsafeBufferPointer { fft.forward($0) }
        let fb = b.withUnsafeBufferPointer { fft.forward($0) }
        return curve(fa, fb, shells: shells, pixelSize_A: pixelSize_A)
    }

    /// Spherically averaged power: the mean of |F(k)|² over the coefficients of each shell `0…box/2` (unnormalised
    /// forward transform).
    public static func shellPowerSpectrum(_ volume: [Float], box: Int) -> [Double] {
        let fft = FSCVolumeFFT(box: box)
        let shells = FSCShellIndex(box: box)
        let f = volume.withUnsafeBufferPointer { fft.forward($0) }
        var power = [Double](repeating: 0, count: shells.shellCount)
        var count = [Double](repeating: 0, count: shells.shellCount)
        for i in 0..<shells.shell.count {
            let s = Int(shells.shell[i])
            guard s >= 0 else { continue }
            power[s] += shells.weight[i] * (f[2 * i] * f[2 * i] + f[2 * i + 1] * f[2 * i + 1])
            count[s] += shells.weight[i]
        }
        return zip(power, count).map { $1 > 0 ? $0 / $1 : 0 }
    }

    /// FSC of two half spectra already transformed by `FSCVolumeFFT`.
    static func curve(_ fa: [Double], _ fb: [Double], shells: FSCShellIndex, pixelSize_A: Double) -> FSCCurve {
        let n = shells.shellCount
        var cross = [Double](repeating: 0, count: n)
        var powerA = [Double](repeating: 0, count: n)
        var powerB = [Double](repeating: 0, count: n)
        var counts = [Double](repeating: 0, count: n)
        fa.withUnsafeBufferPointer { a in
        fb.withUnsafeBufferPointer { b in
        shells.shell.withUnsafeBufferPointer { shell in
        shells.weight.withUnsafeBufferPointer { weight in
            for i in 0..<shell.count {
                let s = Int(shell[i])
                guard s >= 0 else { continue }
                let w = weight[i]
                let ar = a[2 * i], ai = a[2 * i + 1], br = b[2 * i], bi = b[2 * i + 1]
                cross[s] += w * (ar * br + ai * bi)
                powerA[s] += w * (ar * ar + ai * ai)
                powerB[s] += w * (br * br + bi * bi)
                counts[s] += w
            }
        }
        }
        }
        }
        var values = (0..<n).map { s -> Double in
            let denominator = (powerA[s] * powerB[s]).squareRoot()
            return denominator > 0 ? cross[s] / denominator : 0
        }
        values[0] = 1
        return FSCCurve(box: shells.box, pixelSize_A: pixelSize_A, values: values,
                        coefficientCounts: counts.map { Int($0) })
    }
}
