import DuetKernels

/// The per-shell Gaussian noise model of pose inference: `variance[s]` is σ² of each of the real and imaginary
/// parts of a Fourier coefficient of shell `s` (round(|k|), image Fourier pixels), in units of the unnormalised DFT
/// of the normalised images. Starts from the images' own power (all noise) and follows the residuals of the best
/// poses, weighted against a prior of `priorWeight` coefficients per shell.
struct NoiseModel {
    private(set) var variance: [Double]
    let priorWeight: Double

    /// σ² from the mean power of the images (`spectra`, centred half-planes), per shell.
    init(particles: PreparedParticles, sample: [Int], priorWeight: Double) {
        let box = particles.box, hx = box / 2 + 1, shells = box
        var power = [Double](repeating: 0, count: shells), counts = [Double](repeating: 0, count: shells)
        for index in sample {
            let x = particles.spectra.baseAddress + index * particles.complexCount
            for row in 0..<box {
                let y = row <= box / 2 ? row : row - box
                for kx in 0..<hx {
                    let s = min(shells - 1, Int(Double(kx * kx + y * y).squareRoot().rounded()))
                    let v = SIMD2<Double>(x[row * hx + kx])
                    power[s] += (v * v).sum() / 2
                    counts[s] += 1
                }
            }
        }
        variance = zip(power, counts).map { $1 > 0 ? max($0 / $1, 1e-6) : 1 }
        self.priorWeight = priorWeight
    }

    /// Updates σ² with the residuals `|X − C·P|²` of images at their best poses; `residualPower[s]` and
    /// `counts[s]` are the summed per-part residual power and number of coefficients in shell `s`.
    mutating func update(residualPower: [Double], counts: [Double]) {
        for s in variance.indices where s < residualPower.count && counts[s] > 0 {
            variance[s] = (priorWeight * variance[s] + residualPower[s]) / (priorWeight + counts[s])
        }
    }
}
