import DuetComm
import DuetKernels
import Foundation

/// CryoSPARC's auto-tuned "Noise initial sigma-scale": the scale `s` of the starting noise σ (a multiple of the
/// images' own power, `NoiseModel`) at which the posteriors of the first images against the random start
/// spread, on average, over `targetFraction` of the global pose grid (CryoSPARC's "Target 3D ESS fraction",
/// 0.011; `CoarseToFineSearch.globalESSFractions`). A larger σ flattens every posterior, so the mean fraction grows
/// with `s` and `s` is found by bisection on `log s` within `range`.
struct NoiseScaleTuning {
    let targetFraction: Double
    static let range = (lower: 0.1, upper: 100.0)
    static let bisections = 12

    /// The tuned scale (collective over `communicator`): `batch` holds this rank's images among the first
    /// `sampleCount` of the set, image `j` at position `positions[j]` among them; `baseVariance` is σ² at scale 1.
    func sigmaScale(search: CoarseToFineSearch, volume: FourierVolume, batch: PoseImageBatch, positions: [Int],
                    sampleCount: Int, baseVariance: NoiseSpectrum, communicator: Communicator) throws -> Double {
        func meanFraction(logScale: Double) throws -> Double {
            let s2 = exp(2 * logScale)
            let fractions = search.globalESSFractions(volume: volume, batch: batch,
                                                      noiseVariance: baseVariance.scaled(by: s2))
            var rows = [Double](repeating: 0, count: sampleCount)
            for (position, fraction) in zip(positions, fractions) { rows[position] = fraction }
            return try communicator.sumDisjointRows(rows, rowLength: 1)[0] / Double(max(1, sampleCount))
        }
        var (low, high) = (log(Self.range.lower), log(Self.range.upper))
        if try meanFraction(logScale: high) <= targetFraction { return Self.range.upper }
        if try meanFraction(logScale: low) >= targetFraction { return Self.range.lower }
        for _ in 0..<Self.bisections {
            let middle = (low + high) / 2
            if try meanFraction(logScale: middle) < targetFraction { low = middle } else { high = middle }
        }
        return exp((low + high) / 2)
    }
}
