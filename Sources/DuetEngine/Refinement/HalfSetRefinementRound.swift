import DuetComm
import DuetCore
import DuetKernels

/// One round of refinement of one half-set after its SGD, from the half's own particles only (an expectation–
/// maximisation step, as a homogeneous refinement makes it; docs/design.md §3). The half is refined as two chains, its
/// particles of even and of odd index, so that the FSC between the chains' maps is honest within the half, as the
/// gold-standard FSC is between the halves:
/// 1. each chain's particles are reconstructed at their current poses (`HalfSetBackProjection`), weighted by
///    their contrast scales divided by the half's median scale (so the map keeps the data's scale);
/// 2. an automatic solvent mask (`AutoMask`) is made from the two chains' maps, and the half's map (the mean of the
///    chains'), masked, is filtered with the masked FSC `f` of the two chains' maps corrected by phase randomisation
///    (Chen et al. 2013, as the gold-standard report measures the halves), as RELION filters a half's
///    solvent-flattened reference with the FSC of the halves: each shell is multiplied by `2f / (1 + f)` (the FSC of
///    the chains' sum against the truth's, Rosenthal & Henderson 2003), and shells from the first where that falls
///    below `searchWeightFloor` on are dropped. Without the mask the solvent's noise holds the FSC down (on `messy`,
///    weight 0.5 at 12 Å every round); with it the search reaches 6.9 Å in the first round and 4.5 Å in the fourth,
///    and the whole half's map is a better reference than each chain's own (README);
/// 3. every particle's pose is inferred again against that map (`AbinitEngine.assignPoses`), up to that radius:
///    over all poses, or near each particle's current pose (`local`).
/// Nothing of the other half enters, so the halves stay independent; the chains start from the half's SGD poses,
/// in one frame, and a search against a map keeps its frame, so they stay in it.
struct HalfSetRefinementRound {
    let box: Int
    let pixelSize_A: Double
    let communicator: Communicator

    /// A shell enters the search only while its weight `2f / (1 + f)` is at least this: where the half's own map
    /// is still reliable, not down to the 0.143 of its resolution. Measured on `messy` with unmasked chain
    /// references (README; not re-tuned since the masks): searching only to 0.5 gave 5.76° after 4 rounds against
    /// 6.58° with 0.143, and keeping shells down to 0.02 locked the poses at 8.4°: the likelihood treats the
    /// reference as exact, so its noisy shells mislead the search.
    static let searchWeightFloor = 0.5

    /// Runs the round on `run` (collective over the half's communicator); returns the resolution (Å) at which the
    /// weight falls below `searchWeightFloor`, the radius of the new pose search.
    func refine(_ run: HalfSetRun, local: Bool) throws -> Double {
        let posed = run.posedShard()
        let medianScale = try Self.median(posed.map(\.scale), indices: posed.map(\.index),
                                          count: run.particles.particles.count, communicator: communicator)
        let grid = FourierGrid(box: box)
        let projection = HalfSetBackProjection(box: box, pixelSize_A: pixelSize_A, applyCTF: true,
                                               symmetry: run.engine.symmetry)
        var chains = [[Float]]()
        try run.engine.times.measure(.backProjection) {
            for parity in 0..<2 {
                let members = posed.filter { $0.index % 2 == parity }
                let backProjector = BackProjector(grid: grid)
                try projection.accumulate(members.map(\.particle), imageScales: members.map { $0.scale / medianScale },
                                          from: run.particles, into: backProjector)
                try communicator.allreduceSum(backProjector.numerator.buffer)
                try communicator.allreduceSum(backProjector.weight.buffer)
                chains.append(backProjector.reconstruct())
            }
        }
        let mask = AutoMask.make(halfA: chains[0], halfB: chains[1], box: box, pixelSize_A: pixelSize_A,
                                 parameters: AutoMaskParameters()).mask
        let fsc = FourierShellCorrelation.maskedCorrected(chains[0], chains[1], mask: mask, box: box,
                                                          pixelSize_A: pixelSize_A, seed: 1).corrected
        let wiener = Self.wienerWeights(chainFSC: fsc.values)
        let radius = max(1, wiener.lastIndex { $0 > 0 } ?? 1)
        var map = (0..<mask.count).map { (chains[0][$0] + chains[1][$0]) / 2 * mask[$0] }
        LowPassFilter.applyShellWeights(&map, box: box) { k in
            let shell = Int(k.rounded())
            return shell < wiener.count ? wiener[shell] : 0
        }
        try run.engine.assignPoses(against: map, radius_px: radius, local: local)
        return fsc.resolution_A(shell: Double(radius))
    }

    /// The per-shell weight `2f / (1 + f)` from the FSC `f` of the two chains, clamped to [0, 1], and 0 from the
    /// first shell (past the DC) where it falls below `searchWeightFloor` on.
    static func wienerWeights(chainFSC f: [Double]) -> [Double] {
        var weights = f.map { min(1, max(0, 2 * $0 / (1 + max($0, -0.5)))) }
        if let cut = weights.indices.dropFirst().first(where: { weights[$0] < searchWeightFloor }) {
            for s in cut..<weights.count { weights[s] = 0 }
        }
        return weights
    }

    /// The median of values spread over the half's ranks (`values[j]` belongs to particle `indices[j]` of the
    /// `count` particles; each particle on one rank), 1 when there is none or it is not positive.
    static func median(_ values: [Double], indices: [Int], count: Int, communicator: Communicator) throws -> Double {
        var rows = [Double](repeating: 0, count: count)
        var present = [Double](repeating: 0, count: count)
        for (index, value) in zip(indices, values) { (rows[index], present[index]) = (value, 1) }
        try communicator.allreduceSum(&rows)      // exact: each row is nonzero on one rank only
        try communicator.allreduceSum(&present)
        guard let median = zip(rows, present).filter({ $1 > 0 }).map(\.0).median, median > 1e-6 else { return 1 }
        return median
    }
}
