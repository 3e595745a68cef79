import DuetComm
import DuetKernels

/// The per-shell Gaussian noise model of pose inference: `variance[s]` is σ² of each of the real and imaginary
/// parts of a Fourier coefficient of shell `s` (round(|k|), image Fourier pixels), in units of the unnormalised DFT
/// of the normalised images. Starts from the images' own power (all noise) and follows the residuals of the best
/// poses, weighted against a prior of `priorWeight` coefficients per shell.
struct NoiseModel {
    var variance: [Double]
    let priorWeight: Double

    /// σ² from the mean power of the first `sampleCount` particles of the set (`spectra`, centred half-planes),
    /// per shell, times `sigmaScale²`; each rank measures the ones it owns (collective).
    init(particles: PreparedParticles, shard: ParticleShard, sampleCount: Int, sigmaScale: Double, priorWeight: Double,
         communicator: Communicator) throws {
        let box = particles.box
        var rows = [Double](repeating: 0, count: max(1, sampleCount) * box)
        var counts = [Double](repeating: 0, count: box)
        Self.forEachCoefficient(box: box, radius_px: box) { _, shell in counts[shell] += Double(sampleCount) }
        for index in 0..<sampleCount where shard.owns(index) {
            let x = particles.images.spectra.baseAddress + shard.slot(of: index) * particles.complexCount
            Self.forEachCoefficient(box: box, radius_px: box) { k, shell in
                let v = SIMD2<Double>(x[k])
                rows[index * box + shell] += (v * v).sum() / 2
            }
        }
        let power = try communicator.sumDisjointRows(rows, rowLength: box)
        variance = zip(power, counts).map { $1 > 0 ? sigmaScale * sigmaScale * max($0 / $1, 1e-6) : 1 }
        self.priorWeight = priorWeight
    }

    /// Calls `body(k, shell)` for every coefficient `k` of a centred half-plane (`box` rows of `box/2 + 1`, FFTW
    /// row order) with `|k| ≤ radius_px`; `shell = round(|k|)`, capped at `box − 1`.
    static func forEachCoefficient(box: Int, radius_px: Int, _ body: (_ k: Int, _ shell: Int) -> Void) {
        let hx = box / 2 + 1
        for row in 0..<box {
            let y = row <= box / 2 ? row : row - box
            for kx in 0..<hx where kx * kx + y * y <= radius_px * radius_px {
                body(row * hx + kx, min(box - 1, Int(Double(kx * kx + y * y).squareRoot().rounded())))
            }
        }
    }

    /// Updates σ² with the residuals `|X − C·P|²` of images at their best poses; `residualPower[s]` and
    /// `counts[s]` are the summed per-part residual power and number of coefficients in shell `s`.
    mutating func update(residualPower: [Double], counts: [Double]) {
        for s in variance.indices where s < residualPower.count && counts[s] > 0 {
            variance[s] = (priorWeight * variance[s] + residualPower[s]) / (priorWeight + counts[s])
        }
    }
}
