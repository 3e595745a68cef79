import Foundation

/// Centring convention of Duet (docs/design.md §1): the real-space origin of an image or volume of edge `n` is at
/// index `c = n/2` (integer division) along every axis, for even and odd `n`.
///
/// Duet's Fourier coefficients of a centred array are taken *about that origin*:
/// `G[k] = Σₓ f[x]·exp(−2πi k·(x − c)/n) = F[k]·exp(+2πi k·c/n)`, where `F` is the plain FFTW forward
/// transform (`RealFFT`). This is a phase ramp on the half-spectrum, applied here and only here:
/// - even `n`: `exp(+iπk) = (−1)^k`, the checkerboard sign flip (applied exactly, with no rounding);
/// - odd `n`: the general ramp `exp(+2πi k·(n−1)/2 / n)`.
/// A centred, real, symmetric object has real coefficients in this convention, and projections/slices and images
/// agree in phase whatever the parity of the box. `decentre` undoes `centre` before an inverse transform.
public enum FourierCentring {
    /// Converts the FFTW half-spectrum `spectrum` of an array of `shape` (slowest first) into coefficients about
    /// the centre `shape/2`: multiplies by `exp(+2πi Σ k_a·c_a/n_a)`.
    public static func centre<T: FFTWReal>(_ spectrum: UnsafeMutablePointer<SIMD2<T>>, shape: [Int]) {
        applyRamp(spectrum, shape: shape, sign: 1)
    }

    /// Converts centred coefficients back to an FFTW half-spectrum (multiplies by `exp(−2πi Σ k_a·c_a/n_a)`), so
    /// that `RealFFT.inverse` returns the array with its origin at index `shape/2`.
    public static func decentre<T: FFTWReal>(_ spectrum: UnsafeMutablePointer<SIMD2<T>>, shape: [Int]) {
        applyRamp(spectrum, shape: shape, sign: -1)
    }

    /// Phase factor `exp(sign·2πi·k·(n/2)/n)` for the FFT index `index` of an axis of `size`, on the half axis
    /// when `half` (index = frequency) or a full axis otherwise.
    public static func phase(index: Int, size: Int, half: Bool, sign: Double) -> SIMD2<Double> {
        let k = half ? index : FourierIndexing.signedFrequency(index: index, size: size)
        if size % 2 == 0 { return k % 2 == 0 ? [1, 0] : [-1, 0] }
        let angle = sign * 2 * Double.pi * Double(k) * Double(size / 2) / Double(size)
        return [cos(angle), sin(angle)]
    }

    static func applyRamp<T: FFTWReal>(_ spectrum: UnsafeMutablePointer<SIMD2<T>>, shape: [Int], sign: Double) {
        precondition((1...3).contains(shape.count))
        let padded = [Int](repeating: 1, count: 3 - shape.count) + shape
        let (nz, ny, nx) = (padded[0], padded[1], padded[2])
        let hx = nx / 2 + 1
        let px = (0..<hx).map { phase(index: $0, size: nx, half: true, sign: sign) }
        let py = (0..<ny).map { shape.count >= 2 ? phase(index: $0, size: ny, half: false, sign: sign) : [1, 0] }
        let pz = (0..<nz).map { shape.count >= 3 ? phase(index: $0, size: nz, half: false, sign: sign) : [1, 0] }
        for z in 0..<nz {
            for y in 0..<ny {
                let pyz = multiply(py[y], pz[z])
                let row = spectrum + (z * ny + y) * hx
                for x in 0..<hx {
                    let p = multiply(px[x], pyz)
                    let v = row[x]
                    row[x] = SIMD2(v.x * T(p.x) - v.y * T(p.y), v.x * T(p.y) + v.y * T(p.x))
                }
            }
        }
    }

    @inline(__always) static func multiply(_ a: SIMD2<Double>, _ b: SIMD2<Double>) -> SIMD2<Double> {
        [a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x]
    }
}
