/// The per-particle quality score `rlnDuetQuality` (higher = better; sort or threshold by it to drop junk), from the
/// two ways an image can fail to be a clean particle: it fits the map poorly (empty ice, another protein: a low
/// normalised correlation `ρ`) or it fits but leaves unexplained density beside it (an overlapping neighbour: a
/// high residual hotspot `h`). Each becomes a robust standard score over the run's particles,
/// `z(v) = (v − median)/(1.4826·MAD)` (the MAD scaled to σ for Gaussian values), and
///
///     quality = z(ρ) − max(0, z(h) − 2)
///
/// so a hotspot counts only once it stands out by more than two standard deviations, and the correlation ranks the
/// rest. Measured on `messy` (README, "Quality score"): the margin of 2 is not a fitted value — 1 to 3 gave
/// ROC AUCs within 0.01.
public struct QualityScoring: Equatable, Sendable {
    public let correlationMedian: Double
    public let correlationSpread: Double
    public let hotspotMedian: Double
    public let hotspotSpread: Double

    /// The hotspot's standard scores that count as ordinary noise.
    public static let hotspotMargin = 2.0

    /// The scoring of a run whose particles have these correlations and hotspots (any order, equal counts).
    public init(correlations: [Double], hotspots: [Double]) {
        precondition(correlations.count == hotspots.count, "QualityScoring: one hotspot per correlation")
        (correlationMedian, correlationSpread) = Self.robustLocation(correlations)
        (hotspotMedian, hotspotSpread) = Self.robustLocation(hotspots)
    }

    /// The scoring from `parameters` (as `parameters` gives them, e.g. after a broadcast).
    public init(parameters p: [Double]) {
        precondition(p.count == 4, "QualityScoring: four parameters")
        (correlationMedian, correlationSpread, hotspotMedian, hotspotSpread) = (p[0], p[1], p[2], p[3])
    }

    /// Median and spread of correlation, then of hotspot.
    public var parameters: [Double] { [correlationMedian, correlationSpread, hotspotMedian, hotspotSpread] }

    /// The quality of one particle.
    public func score(correlation: Double, residualHotspot: Double) -> Double {
        let correlationZ = (correlation - correlationMedian) / correlationSpread
        let hotspotZ = (residualHotspot - hotspotMedian) / hotspotSpread
        return correlationZ - max(0, hotspotZ - Self.hotspotMargin)
    }

    /// The median and 1.4826 × the median absolute deviation of `values`; a spread of 1 where that is 0 (fewer
    /// than two distinct values), so that scores stay finite.
    private static func robustLocation(_ values: [Double]) -> (median: Double, spread: Double) {
        guard let median = values.median else { return (0, 1) }
        guard let deviation = values.map({ abs($0 - median) }).median, deviation > 0 else { return (median, 1) }
        return (median, 1.4826 * deviation)
    }
}
