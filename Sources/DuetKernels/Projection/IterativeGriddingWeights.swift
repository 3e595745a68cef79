import Foundation

/// The Fourier transform of RELION's gridding blob: a Kaiser–Bessel window of order `m = 0`, radius `a` and
/// taper `α` in 3-D (RELION's `kaiser_Fourier_value(w, a, α, 0)`), normalised to 1 at `w = 0`:
///
///     B(w) / B(0) = [Φ(σ) / σ^1.5] / [I₁.₅(α) / α^1.5],   σ = sqrt|α² − (2π a w)²|,
///
/// with `Φ = I₁.₅` (modified spherical Bessel) while `2π a w ≤ α` and `Φ = J₁.₅` beyond. With
/// `I₁.₅(x) = sqrt(2/(πx))·(cosh x − sinh x / x)` and `J₁.₅(x) = sqrt(2/(πx))·(sin x / x − cos x)` the ratio is
/// `g(σ)/σ² ÷ g(α)/α²` with `g` the bracket, which is what is evaluated here (in `Double`).
///
/// RELION's defaults (`relion_reconstruct --blob_r 1.9 --blob_a 15 --blob_m 0`) with the radius doubled as in
/// `BackProjector`'s constructor since 3.0 ("try to fix problems with pad1 reconstructions"): `a = 3.8` samples of
/// the padded Fourier grid, `α = 15`. Its table (`TabFtBlob`, 10 000 samples on `[0, 0.5)`) returns 0 at
/// `w ≥ 0.5`; so does `normalisedFourierValue`.
struct KaiserBesselBlob: Sendable {
    let radius: Double
    let alpha: Double
    private let atZero: Double

    init(radius: Double = 3.8, alpha: Double = 15) {
        self.radius = radius
        self.alpha = alpha
        atZero = Self.bracketOverSquare(alpha, oscillating: false)
    }

    /// `B(w)/B(0)` at `w` cycles per Fourier sample; 0 for `w ≥ 0.5` (RELION's table ends there).
    func normalisedFourierValue(_ w: Double) -> Double {
        guard w < 0.5 else { return 0 }
        let c = 2 * Double.pi * radius * w
        let sigma = abs(alpha * alpha - c * c).squareRoot()
        return Self.bracketOverSquare(sigma, oscillating: c > alpha) / atZero
    }

    /// `g(x)/x²` with `g = cosh x − sinh x / x` (or `sin x / x − cos x` when `oscillating`), by its series near 0.
    private static func bracketOverSquare(_ x: Double, oscillating: Bool) -> Double {
        let s: Double = oscillating ? -1 : 1
        if x < 1e-2 { return 1.0 / 3 + s * x * x / 30 }
        let g = oscillating ? sin(x) / x - cos(x) : cosh(x) - sinh(x) / x
        return g / (x * x)
    }
}

/// RELION's iterative gridding weights (`BackProjector::reconstruct` without `--skip_gridding`; Pipe & Menon 1999,
/// Eq. 14; Matej et al. 2001, Eq. 4): density-compensation weights `W` on the padded Fourier grid such that the
/// blob-convolved, weighted sampling density `(W·F) ⊛ B` is ≈ 1 everywhere inside the sphere, where `F` is the
/// back-projected weight (`Σ` trilinear fraction · CTF²). The reconstruction is then `numerator · W` rather than
/// `numerator / F`:
/// - where the sampling is dense and smooth, `W ≈ 1/F` and the two agree;
/// - where a voxel was reached only by the far corners of trilinear kernels (small `F`, a few samples), `1/F`
///   blows its few noisy samples up to full amplitude, while `W` (set by the neighbourhood's density) keeps them
///   at their small share. This is what costs the plain `numerator/weight` estimate up to 0.1 in FSC against the
///   truth at intermediate and high resolution on noisy data.
///
/// The iteration, as RELION does it: `W₀ = 1` inside `r² < R²` (R = `round(padding · r_max)`, RELION's `max_r2`)
/// and 0 outside; then `iterations` times (RELION's `--iter`, default 10) `C = (W·F) ⊛ B` and, inside the sphere,
/// `W ← W / max(10⁻⁶, |C|)` (the floor keeps empty voxels finite; the numerator is zero there anyway). `W` is kept
/// in `Double`, as RELION does ("Fnewweight can become too large for a float").
///
/// The convolution is done as RELION's `convoluteBlobRealSpace`: inverse FFT, multiplication by the blob's
/// Fourier transform `B(r/P)/B(0)` (`r` the real-space distance in voxels, `P` = `paddedBox`, so the kernel has
/// unit sum), forward FFT. RELION does this on its data array's cube of edge `2(R+1)+1` (so nothing on the
/// sphere wraps around onto the opposite side); Duet uses the next FFT-friendly size `N` at or above it
/// (`FFTSize.even`: RELION's own odd `2R + 3` often has a large prime factor) and evaluates the multiplier at
/// `r·N_RELION/(N·P)`, which is the same continuous kernel (radius `3.8·N_RELION/P` Fourier samples, as RELION's)
/// sampled on a finer grid. Measured on the `small` bench
/// set (box 64): the maps made with `N = N_RELION` = 131 and with `N` = 144 have FSC 1.0000 with each other and
/// their FSCs against the truth differ by ≤ 0.0001 at every shell.
///
/// The number of iterations matters a little (same set, FSC against the truth minus RELION's): 1–5 iterations
/// give up to +0.03…+0.09 in the last two shells (the sphere's edge, where the converged weights boost the few
/// samples there) but down to −0.005 in mid shells; 20 give −0.03 in places. RELION's 10 is the default.
struct IterativeGriddingWeights {
    /// Edge `N` of the cube the convolutions are done on.
    let size: Int
    /// `W` on the half-spectrum layout of that cube (x = 0…N/2 fastest, then y and z in FFT order); zero outside
    /// the sphere. Kept in `Double`, as RELION does ("Fnewweight can become too large for a float": empty voxels
    /// grow by 10⁶ per iteration).
    let values: AlignedBuffer<Double>

    /// Computes `W` for the back-projected weights `weight` (Friedel-completed, in `grid`'s centred storage
    /// layout) with `iterations ≥ 1` rounds.
    init(weight: UnsafePointer<Float>, grid g: FourierGrid, iterations: Int, fftwThreads: Int) {
        precondition(iterations >= 1, "IterativeGriddingWeights: iterations < 1")
        let R = g.sphereRadius
        let relionSize = 2 * (R + 1) + 1
        let n = FFTSize.even(atLeast: relionSize)
        size = n
        let fft = RealFFT<Float>(cube: n, rigor: .estimate, fftwThreads: fftwThreads)
        let spectrum = AlignedBuffer<SIMD2<Float>>(count: fft.complexCount)
        let real = AlignedBuffer<Float>(count: fft.realCount)
        // W and F on the FFT's half-spectrum layout, so each iteration is a straight pass over arrays; the sphere
        // (r < R ≤ N/2 − 1) fits without wrapping.
        let f = AlignedBuffer<Float>(count: fft.complexCount)
        let w = AlignedBuffer<Double>(count: fft.complexCount)
        values = w
        f.zero()
        w.zero()
        let hc = n / 2 + 1
        @inline(__always) func rowStart(_ y: Int, _ z: Int) -> Int {
            hc * ((y < 0 ? y + n : y) + n * (z < 0 ? z + n : z))
        }
        // Every loop over the sphere runs along x, which is contiguous in both layouts, on raw pointers. The hot
        // loops are `while` loops over plain `Float`/`Double` pointers (the spectrum as interleaved re, im): in
        // unoptimised test builds range iterators and `SIMD2` element access cost a call per element.
        let fp = f.baseAddress, wp = w.baseAddress, sp = spectrum.baseAddress
        let sf = UnsafeMutableRawPointer(sp).assumingMemoryBound(to: Float.self)
        // W₀ = 1 inside the sphere (RELION initialises its `weight` array to 1 for r² < max_r2, 0 elsewhere).
        Self.forEachSphereRow(radius: R) { y, z, length in
            let i = rowStart(y, z), source = weight + g.index(x: 0, y: y, z: z)
            for x in 0..<length {
                fp[i + x] = source[x]
                wp[i + x] = 1
            }
        }
        // The blob's Fourier transform as a function of the integer squared distance from the real-space origin.
        let blob = KaiserBesselBlob()
        let half = n / 2
        let stretch = Double(relionSize) / (Double(n) * Double(g.paddedBox))
        let multiplier = AlignedBuffer<Float>((0...(3 * half * half)).map {
            Float(blob.normalisedFourierValue(Double($0).squareRoot() * stretch))
        })
        let square = AlignedBuffer<Int>((0..<n).map { i -> Int in let k = i <= half ? i : i - n; return k * k })

        nonisolated(unsafe) let realBase = real.baseAddress, m = multiplier.baseAddress, sq = square.baseAddress
        for _ in 0..<iterations {
            // W·F into the transform (zero outside the sphere; real and even in k, so its transform is too).
            spectrum.zero()
            Self.forEachSphereRow(radius: R) { y, z, length in
                let i = rowStart(y, z)
                var x = i
                while x < i + length {
                    sf[2 * x] = Float(wp[x] * Double(fp[x]))
                    x += 1
                }
            }
            // Inverse FFT (÷ N³), multiplication by the blob's transform, forward FFT (unnormalised): the round
            // trip is a convolution with a kernel of unit sum.
            fft.inverse(sp, realBase)
            ParallelFor.run(count: n) { planes in
                for z in planes {
                    for y in 0..<n {
                        let row = realBase + n * (y + n * z), table = m + (sq[y] + sq[z])
                        var x = 0
                        while x < n {
                            row[x] *= table[sq[x]]
                            x += 1
                        }
                    }
                }
            }
            fft.forward(realBase, sp)
            // Eq. 14 of Pipe & Menon: divide by the convolved weighted density (RELION takes its modulus; the
            // imaginary part is rounding only).
            Self.forEachSphereRow(radius: R) { y, z, length in
                let i = rowStart(y, z)
                var x = i
                while x < i + length {
                    let re = sf[2 * x], im = sf[2 * x + 1]
                    wp[x] /= max(1e-6, Double((re * re + im * im).squareRoot()))
                    x += 1
                }
            }
        }
        withExtendedLifetime((multiplier, square, real, f, spectrum)) {}
    }

    /// `W` along the row `(0…, y, z)` of the sphere: element `x` is `W(x, y, z)`.
    @inline(__always) func row(y: Int, z: Int) -> UnsafePointer<Double> {
        let n = size
        return UnsafePointer(values.baseAddress + (n / 2 + 1) * ((y < 0 ? y + n : y) + n * (z < 0 ? z + n : z)))
    }

    /// Calls `body(y, z, length)` for every row of the stored half-space `x ≥ 0` that meets the sphere
    /// `x² + y² + z² < R²` (RELION's `r2 < max_r2`); the row's points in the sphere are `x = 0..<length`.
    @inline(__always) static func forEachSphereRow(radius R: Int, _ body: (Int, Int, Int) -> Void) {
        let r2max = R * R
        for z in -R...R {
            for y in -R...R {
                let rest = r2max - y * y - z * z
                guard rest > 0 else { continue }
                var length = Int(Double(rest).squareRoot())
                while length * length < rest { length += 1 }
                while length > 0 && (length - 1) * (length - 1) >= rest { length -= 1 }
                body(y, z, length)
            }
        }
    }
}
