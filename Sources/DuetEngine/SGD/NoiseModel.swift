import DuetComm
import DuetKernels

/// The Gaussian noise model of pose inference: `variance` (`NoiseSpectrum`) is σ² of each of the real and imaginary
/// parts of a Fourier coefficient, in units of the unnormalised DFT of the normalised images. Starts from the
/// images' own power (all noise) and follows the residuals of the best poses; the previous estimate weighs as
/// `priorWeight` Fourier coefficients per shell against a minibatch's residuals. `kind` is CryoSPARC's noise model:
/// `.symmetric` keeps one σ² per shell (coloured, radially symmetric), `.white` one σ² for every shell (their mean
/// over the coefficients), `.coloured` one σ² per coefficient of the half-plane (2-D: noise whose power depends on
/// direction too), each weighing its share of its shell's prior weight.
struct NoiseModel {
    var variance: NoiseSpectrum
    let priorWeight: Double
    let kind: NoiseModelKind

    /// The model with σ² `shells[s]` per shell of an image of edge `shells.count` (for `.white`, their mean over
    /// the image's coefficients; for `.coloured`, each coefficient its shell's value).
    init(shells: [Double], priorWeight: Double, kind: NoiseModelKind) {
        let box = shells.count
        switch kind {
        case .symmetric: variance = NoiseSpectrum(shells: shells)
        case .white: variance = NoiseSpectrum(shells: Self.white(shells, counts: Self.coefficientCounts(box: box)))
        case .coloured:
            var values = [Double](repeating: 1, count: box * (box / 2 + 1))
            Self.forEachCoefficient(box: box, radius_px: box) { k, shell in values[k] = shells[shell] }
            variance = NoiseSpectrum(coefficients: values, box: box)
        }
        self.priorWeight = priorWeight
        self.kind = kind
    }

    /// σ² from the mean power of the first `sampleCount` particles of the set (`spectra`, centred half-planes),
    /// per shell (per coefficient for `.coloured`), times `sigmaScale²`; each rank measures the ones it owns
    /// (collective; the same on any number of ranks). The sample's images must have been waited for
    /// (`PreparedParticles.wait`).
    init(particles: PreparedParticles, shard: ParticleShard, sampleCount: Int, sigmaScale: Double,
         priorWeight: Double, kind: NoiseModelKind, communicator: Communicator) throws {
        let shells = try Self.imagePower(particles: particles, shard: shard, sampleCount: sampleCount,
                                         communicator: communicator)
        self.init(shells: shells, priorWeight: priorWeight, kind: kind)
        if kind == .coloured {
            var sums = [Int64](repeating: 0, count: particles.complexCount)
            for index in 0..<sampleCount where shard.owns(index) {
                let x = particles.images.spectrum(shard.slot(of: index))
                Self.forEachCoefficient(box: particles.box, radius_px: particles.box) { k, _ in
                    let v = SIMD2<Double>(x[k])
                    sums[k] += Self.fixedPoint((v * v).sum() / 2, unit: variance.values[k])
                }
            }
            try communicator.allreduceSum(&sums)
            let mean = sums.indices.map { max(Self.value(sums[$0], unit: variance.values[$0]) / Double(sampleCount), 1e-6) }
            variance = NoiseSpectrum(coefficients: mean, box: particles.box)
        }
        variance = variance.scaled(by: sigmaScale * sigmaScale)
    }

    /// The same model with its σ² replaced by `values` (a checkpoint's, laid out as `variance.values`).
    func restoring(_ values: [Double]) -> NoiseModel {
        var model = self
        switch variance.layout {
        case .shells: model.variance = NoiseSpectrum(shells: values)
        case .coefficients(let box): model.variance = NoiseSpectrum(coefficients: values, box: box)
        }
        return model
    }

    /// The mean power per shell of the first `sampleCount` particles (each rank measures the ones it owns).
    private static func imagePower(particles: PreparedParticles, shard: ParticleShard, sampleCount: Int,
                                   communicator: Communicator) throws -> [Double] {
        let box = particles.box
        var rows = [Double](repeating: 0, count: max(1, sampleCount) * box)
        let counts = coefficientCounts(box: box).map { $0 * Double(sampleCount) }
        for index in 0..<sampleCount where shard.owns(index) {
            let x = particles.images.spectrum(shard.slot(of: index))
            Self.forEachCoefficient(box: box, radius_px: box) { k, shell in
                let v = SIMD2<Double>(x[k])
                rows[index * box + shell] += (v * v).sum() / 2
            }
        }
        let power = try communicator.sumDisjointRows(rows, rowLength: box)
        return zip(power, counts).map { $1 > 0 ? max($0 / $1, 1e-6) : 1 }
    }

    /// The number of half-plane coefficients in each shell of a `box`² image.
    static func coefficientCounts(box: Int) -> [Double] {
        var counts = [Double](repeating: 0, count: box)
        forEachCoefficient(box: box, radius_px: box) { _, shell in counts[shell] += 1 }
        return counts
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

    /// Updates per-shell σ² with the residuals `|X − C·P|²` of images at their best poses; `residualPower[s]` and
    /// `counts[s]` are the summed per-part residual power and number of coefficients in shell `s`.
    mutating func update(residualPower: [Double], counts: [Double]) {
        precondition(variance.layout == .shells, "NoiseModel: per-shell residuals for a per-shell model")
        var values = variance.values
        for s in values.indices where s < residualPower.count && counts[s] > 0 {
            values[s] = (priorWeight * values[s] + residualPower[s]) / (priorWeight + counts[s])
        }
        variance = NoiseSpectrum(shells: kind == .white ? Self.white(values, counts: counts) : values)
    }

    /// Updates per-coefficient σ² (`.coloured`) with the residuals of `imageCount` images at their best poses:
    /// `residualSums[k]` is the summed per-part residual power of coefficient `k` in `fixedPoint` units of its
    /// current σ² (exact sums, the same on any number of ranks); coefficients beyond `radius_px` keep theirs.
    mutating func update(residualSums: [Int64], imageCount: Int, radius_px: Int) {
        guard case .coefficients(let box) = variance.layout else {
            preconditionFailure("NoiseModel: per-coefficient residuals for a 2-D model")
        }
        let perShell = Self.coefficientCounts(box: box)
        var values = variance.values
        Self.forEachCoefficient(box: box, radius_px: radius_px) { k, shell in
            // The shell's prior weight, shared by its coefficients.
            let prior = priorWeight / perShell[shell]
            values[k] = (prior * values[k] + Self.value(residualSums[k], unit: values[k])) / (prior + Double(imageCount))
        }
        variance = NoiseSpectrum(coefficients: values, box: box)
    }

    /// `power` as a fixed-point integer in units of `unit · 2⁻³⁰`, clamped at 2²⁰ units: integer sums over a
    /// minibatch of up to 2¹² images stay exact and below 2⁶³, whatever order the ranks add them in.
    static func fixedPoint(_ power: Double, unit: Double) -> Int64 {
        Int64((min(power / unit, 0x1p20) * 0x1p30).rounded())
    }

    /// The power a `fixedPoint` sum stands for.
    static func value(_ sum: Int64, unit: Double) -> Double { Double(sum) * unit * 0x1p-30 }

    /// One σ² for every shell: the mean over the coefficients that `counts` counts (shells without any keep theirs
    /// out of the mean and take it too).
    private static func white(_ variance: [Double], counts: [Double]) -> [Double] {
        let total = counts.reduce(0, +)
        guard total > 0 else { return variance }
        let mean = zip(variance, counts).map { $0 * $1 }.reduce(0, +) / total
        return variance.map { _ in mean }
    }
}
