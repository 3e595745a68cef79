import DuetComm
import DuetKernels

/// The Gaussian noise model of pose inference: `variance[s]` is σ² of each of the real and imaginary parts of a
/// Fourier coefficient of shell `s` (round(|k|), image Fourier pixels), in units of the unnormalised DFT of the
/// normalised images. Starts from the images' own power (all noise) and follows the residuals of the best poses;
/// the previous estimate weighs as `priorWeight` Fourier coefficients per shell against a minibatch's residuals.
/// `kind` is CryoSPARC's noise model: `.symmetric` keeps one σ² per shell (coloured, radially symmetric), `.white`
/// one σ² for every shell (their mean over the coefficients).
struct NoiseModel {
    var variance: [Double]
    let priorWeight: Double
    let kind: NoiseModelKind

    /// The model with σ² `variance` per shell of an image of edge `variance.count` (for `.white`, their mean over
    /// the image's coefficients).
    init(variance: [Double], priorWeight: Double, kind: NoiseModelKind) {
        let box = variance.count
        var counts = [Double](repeating: 0, count: box)
        Self.forEachCoefficient(box: box, radius_px: box) { _, shell in counts[shell] += 1 }
        self.variance = kind == .white ? Self.white(variance, counts: counts) : variance
        self.priorWeight = priorWeight
        self.kind = kind
    }

    /// σ² from the mean power of the first `sampleCount` particles of the set (`spectra`, centred half-planes),
    /// per shell, times `sigmaScale²`; each rank measures the ones it owns (collective).
    init(particles: PreparedParticles, shard: ParticleShard, sampleCount: Int, sigmaScale: Double,
         priorWeight: Double, kind: NoiseModelKind, communicator: Communicator) throws {
        self.init(variance: try Self.imagePower(particles: particles, shard: shard, sampleCount: sampleCount,
                                                communicator: communicator).map { sigmaScale * sigmaScale * $0 },
                  priorWeight: priorWeight, kind: kind)
    }

    /// The mean power per shell of the first `sampleCount` particles (each rank measures the ones it owns).
    private static func imagePower(particles: PreparedParticles, shard: ParticleShard, sampleCount: Int,
                                   communicator: Communicator) throws -> [Double] {
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
        return zip(power, counts).map { $1 > 0 ? max($0 / $1, 1e-6) : 1 }
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
        if kind == .white { variance = Self.white(variance, counts: counts) }
    }

    /// One σ² for every shell: the mean over the coefficients that `counts` counts (shells without any keep theirs
    /// out of the mean and take it too).
    private static func white(_ variance: [Double], counts: [Double]) -> [Double] {
        let total = counts.reduce(0, +)
        guard total > 0 else { return variance }
        let mean = zip(variance, counts).map { $0 * $1 }.reduce(0, +) / total
        return variance.map { _ in mean }
    }
}
