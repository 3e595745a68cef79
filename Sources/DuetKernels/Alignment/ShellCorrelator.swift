import DuetCore
import Foundation

/// The correlation score of map alignment: a fixed reference A against rigidly transformed copies of a moving
/// map B, over the Fourier frequencies `1 ≤ |k| ≤ radius` (cycles per box) of maps of edge `box`.
///
/// Score of a transform `(R, mirror, t)` (see `MapTransform`): the mean over shells `s = 1…radius` (`s` = `|k|`
/// rounded) of the FSC between A and `B′`, i.e.
/// `Σ_k w(s_k)·Re(Â(k)·conj(B̂′(k)))` with `B̂′(k) = exp(−2πi k·t/box)·B̂(M·Rᵀ·k)` and
/// `w(s) = 1 / (S·√(P_A(s)·P_B(s)))`, `P(s)` the shell power of each map as given and `S` the number of shells
/// with power. Each shell counts equally (a whitened correlation), so the fine detail that pins the rotation is
/// not drowned by the low frequencies. It is 1 for `B′ = c·A` (up to interpolation) and lies in about [−1, 1].
///
/// B's power is that of B itself, not of the interpolated samples `B̂(M·Rᵀ·k)`, on purpose: trilinear
/// interpolation between neighbouring grid values averages B's noise, more for rotations whose samples fall
/// between grid points than for those (the identity, 90° turns) whose samples hit them. Normalising by the
/// samples' power made noisy maps prefer off-grid rotations (1.8° error at the identity, SNR 4, box 32); with a
/// fixed denominator the noise only adds zero-mean terms. For the same reason the moving map is sampled without
/// the gridding correction (`CroppedMaps`): grid points are then exact and the signal elsewhere only mildly
/// attenuated, so scores stay at most about 1.
///
/// `correlate` evaluates every translation on a grid of `gridSize³` (spacing `box / gridSize` voxels, cyclic) at
/// once by one inverse FFT of `w·Â·conj(B̂(M·Rᵀ·k))`, with a parabola through the peak along each axis;
/// `refine` (in `ShellCorrelator+Translation.swift`) then maximises the score over continuous `t` by Newton
/// steps on the analytic sum. The whitened peak is only about two grid spacings wide, so the parabola is too
/// rough to rank nearby rotations: local searches use `refine`.
/// Deterministic: the result of one evaluation does not depend on which thread runs it.
final class ShellCorrelator: @unchecked Sendable {
    /// Edge of the maps, and the largest frequency used (cycles per box).
    let box: Int
    let radius: Int
    /// Edge of the translation grid (≥ 2·radius + 2, so no used frequency aliases).
    let gridSize: Int
    /// Number of frequencies used: the half sphere `k.x ≥ 0` without the DC, less shells without power.
    let count: Int
    let fft: RealFFT<Float>
    /// The cached FFTW inverse plan of `fft`, executed directly: the grid needs no `1/n³` normalisation.
    nonisolated(unsafe) private let inversePlan: OpaquePointer
    private let moving: FourierVolume
    private let sampler: VolumeSampler
    /// Per used frequency, as scalars (see `VolumeSampler`): `k` (3 integers), its index in the grid's half
    /// spectrum, `w·Â(k)` (re, im), and its multiplicity in the full sphere (1 on the plane `k.x = 0`, which holds
    /// both `±k`; 2 elsewhere).
    let frequencies: AlignedBuffer<Int32>
    private let targets: AlignedBuffer<Int32>
    private let weightedReference: AlignedBuffer<Float>
    let multiplicities: AlignedBuffer<Float>

    /// Per-thread scratch: the products `w·Â·conj(B̂(Q·k))` (re, im), the grid's half spectrum and real
    /// correlation map, and the phase tables of `refine`.
    final class Workspace {
        let products: AlignedBuffer<Float>
        let spectrum: AlignedBuffer<SIMD2<Float>>
        let real: AlignedBuffer<Float>
        let phases: AlignedBuffer<SIMD2<Double>>
        init(_ correlator: ShellCorrelator) {
            products = AlignedBuffer(count: 2 * correlator.count)
            spectrum = AlignedBuffer(count: correlator.fft.complexCount)
            real = AlignedBuffer(count: correlator.fft.realCount)
            phases = AlignedBuffer(count: 3 * (2 * correlator.radius + 1))
        }
    }

    /// A score and the translation (voxels of `box`) it was reached at.
    struct Peak {
        var score: Double
        var translation_px: SIMD3<Double>
    }

    /// `reference` and `movingSpectrum` are centred half spectra (`RealFFT.forwardCentred`) of A and B at `box`;
    /// `moving` is B prepared for trilinear sampling up to at least `radius`.
    init(reference: UnsafePointer<SIMD2<Float>>, movingSpectrum: UnsafePointer<SIMD2<Float>>, moving: FourierVolume,
         radius: Int) {
        box = moving.grid.box
        precondition(radius >= 1 && radius <= moving.grid.maxRadius_px, "ShellCorrelator: radius \(radius)")
        self.radius = radius
        self.moving = moving
        sampler = VolumeSampler(moving)
        gridSize = FFTSize.even(atLeast: 2 * radius + 2)
        fft = RealFFT<Float>(cube: gridSize, rigor: .estimate)
        inversePlan = FFTPlanCache.shared.plan(Float.self, forward: false, dims: fft.shape, aligned: true,
                                               rigor: .estimate, threads: 1)

        // Frequencies of the half sphere and the shell powers of both maps over the full sphere.
        var points: [(k: SIMD3<Int>, shell: Int, a: SIMD2<Float>)] = []
        var powerA = [Double](repeating: 0, count: radius + 1), powerB = powerA
        let hb = box / 2 + 1
        for kz in -radius...radius {
            for ky in -radius...radius {
                for kx in 0...max(0, floorSquareRoot(radius * radius - ky * ky - kz * kz)) {
                    let k2 = kx * kx + ky * ky + kz * kz
                    guard k2 > 0 && k2 <= radius * radius else { continue }
                    let shell = Int(Double(k2).squareRoot().rounded())
                    let source = kx + hb * (FourierIndexing.index(frequency: ky, size: box)
                                            + box * FourierIndexing.index(frequency: kz, size: box))
                    let a = reference[source], b = movingSpectrum[source]
                    let multiplicity: Double = kx == 0 ? 1 : 2
                    powerA[shell] += multiplicity * Double((a * a).sum())
                    powerB[shell] += multiplicity * Double((b * b).sum())
                    points.append((SIMD3(kx, ky, kz), shell, a))
                }
            }
        }
        var weights = (0...radius).map { s in
            powerA[s] > 0 && powerB[s] > 0 ? 1 / (powerA[s] * powerB[s]).squareRoot() : 0
        }
        let shellCount = weights.dropFirst().filter { $0 > 0 }.count
        weights = weights.map { $0 / Double(max(shellCount, 1)) }
        points.removeAll { weights[$0.shell] == 0 }

        count = points.count
        frequencies = AlignedBuffer(count: 3 * count)
        targets = AlignedBuffer(count: count)
        weightedReference = AlignedBuffer(count: 2 * count)
        multiplicities = AlignedBuffer(count: count)
        let n = gridSize, hn = n / 2 + 1
        for (i, p) in points.enumerated() {
            for axis in 0..<3 { frequencies[3 * i + axis] = Int32(p.k[axis]) }
            targets[i] = Int32(p.k.x + hn * (FourierIndexing.index(frequency: p.k.y, size: n)
                                             + n * FourierIndexing.index(frequency: p.k.z, size: n)))
            weightedReference[2 * i] = p.a.x * Float(weights[p.shell])
            weightedReference[2 * i + 1] = p.a.y * Float(weights[p.shell])
            multiplicities[i] = p.k.x == 0 ? 1 : 2
        }
    }

    func makeWorkspace() -> Workspace { Workspace(self) }

    /// Fills `workspace.products` with `w·Â(k)·conj(B̂(M·Rᵀ·k))` for every used frequency. The hot loop.
    func computeProducts(rotation: Rotation, mirrored: Bool, workspace: Workspace) {
        // `self` (and so every buffer) is alive for the whole call; the pointers do not escape it.
        let axes = sampler.axes(rotation: rotation, mirrored: mirrored)
        let k = frequencies.baseAddress, a = weightedReference.baseAddress
        let out = workspace.products.baseAddress, sampler = sampler
        for i in 0..<count {
            let b = sampler.sample(axes.point(Float(k[3 * i]), Float(k[3 * i + 1]), Float(k[3 * i + 2])))
            let ar = a[2 * i], ai = a[2 * i + 1]
            out[2 * i] = ar * b.re + ai * b.im
            out[2 * i + 1] = ai * b.re - ar * b.im
        }
    }

    /// The best translation on the grid for `(rotation, mirrored)`, refined to a fraction of the grid spacing by
    /// a parabola through the peak and its neighbours along each axis (offset clamped to ±½ spacing). Leaves the
    /// products in `workspace` for `refine`.
    func correlate(rotation: Rotation, mirrored: Bool, workspace: Workspace) -> Peak {
        computeProducts(rotation: rotation, mirrored: mirrored, workspace: workspace)
        let spectrum = workspace.spectrum.baseAddress
        memset(spectrum, 0, workspace.spectrum.count * MemoryLayout<SIMD2<Float>>.stride)
        let values = UnsafeMutableRawPointer(spectrum).assumingMemoryBound(to: Float.self)
        let target = targets.baseAddress, products = workspace.products.baseAddress
        for i in 0..<count {
            let t = 2 * Int(target[i])
            values[t] = products[2 * i]
            values[t + 1] = products[2 * i + 1]
        }
        Float.fftwExecuteInverse(inversePlan, spectrum, workspace.real.baseAddress)
        return peak(workspace.real.baseAddress)
    }

    /// Arg-max of the correlation grid (first index on ties) with per-axis parabolic interpolation.
    private func peak(_ real: UnsafeMutablePointer<Float>) -> Peak {
        let n = gridSize
        var best = 0
        var bestValue = real[0]
        for i in 1..<(n * n * n) where real[i] > bestValue {
            best = i
            bestValue = real[i]
        }
        let j = SIMD3(best % n, (best / n) % n, best / (n * n))
        let strides = SIMD3(1, n, n * n)
        var value = Double(bestValue), offset = SIMD3<Double>.zero
        for axis in 0..<3 {
            let minus = best + strides[axis] * ((j[axis] + n - 1) % n - j[axis])
            let plus = best + strides[axis] * ((j[axis] + 1) % n - j[axis])
            let (cm, c0, cp) = (Double(real[minus]), Double(bestValue), Double(real[plus]))
            let curvature = cm - 2 * c0 + cp
            guard curvature < 0 else { continue }
            let d = min(0.5, max(-0.5, (cm - cp) / (2 * curvature)))
            offset[axis] = d
            value += d * (cp - cm) / 2 + d * d * curvature / 2
        }
        let wrapped = j &- SIMD3(repeating: n).replacing(with: 0, where: j .<= n / 2)   // signed grid index
        let signed = SIMD3<Double>(Double(wrapped.x), Double(wrapped.y), Double(wrapped.z))
        return Peak(score: value, translation_px: (signed + offset) * Double(box) / Double(n))
    }
}
