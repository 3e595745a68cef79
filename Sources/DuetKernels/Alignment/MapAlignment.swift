import DuetCore
import Foundation

/// Settings of `MapAlignment.align`; the defaults align a box-64 pair in well under a second (release, 2 cores).
public struct MapAlignmentOptions: Sendable, Equatable {
    /// HEALPix order of the global rotation grid (`SO3Grid`: 2 = 4 608 rotations, 15° step).
    public var globalOrder: Int
    /// Highest frequency (cycles per box) of the global search and of the first local round: coarse enough that
    /// the true rotation still correlates at the nearest global grid point.
    public var coarseRadius_px: Int
    /// Best global grid points per hand (distinct by at least one grid step) refined by a first local round.
    public var candidates: Int
    /// Of those, the best per hand refined further, down to `finalStep_deg`.
    public var refinedCandidates: Int
    /// Angular step of the last local round (degrees); each round halves the step, from a third of the global step.
    public var finalStep_deg: Double
    /// Whether to search the mirrored hand as well.
    public var searchMirror: Bool

    public init(globalOrder: Int = 2, coarseRadius_px: Int = 8, candidates: Int = 8, refinedCandidates: Int = 2,
                finalStep_deg: Double = 0.15, searchMirror: Bool = true) {
        self.globalOrder = globalOrder
        self.coarseRadius_px = coarseRadius_px
        self.candidates = candidates
        self.refinedCandidates = refinedCandidates
        self.finalStep_deg = finalStep_deg
        self.searchMirror = searchMirror
    }
}

/// What `MapAlignment.align` found.
public struct MapAlignmentResult: Sendable, Equatable {
    /// The transform that carries the moving map onto the reference (`MapTransform` conventions).
    public var transform: MapTransform
    /// Mean over Fourier shells 1…`radius_px` of the FSC between the (soft-windowed) reference and the
    /// transformed moving map, each shell normalised by B's own power (`ShellCorrelator`): about 1 for a perfect
    /// match, about 0 for unrelated maps.
    public var score: Double
    /// The best score of the other hand (nil when the mirror was not searched): the margin of the hand decision.
    public var otherHandScore: Double?
    /// Highest Fourier frequency used, in cycles per box (`⌊box·pixelSize_A / resolution_A⌋`, at most box/2).
    public var radius_px: Int
}

/// Rigid alignment of one cubic map onto another (docs/design.md §3: half B onto half A; A never moves).
///
/// Method:
/// 1. The reference gets a soft spherical window (1 up to `box/2 − max(2, box/8)` voxels from the centre, a
///    raised cosine to 0 at `box/2`), so that parts of B rotated or moved out of the box and wrapped back do not
///    count (see `CroppedMaps`); both maps are low-passed to `resolution_A` and downsampled by Fourier cropping
///    to the smallest FFT-friendly box that holds that band (e.g. 64³ at 4.4 Å/px aligned at 15 Å → 40³).
/// 2. Global search: every rotation of `SO3Grid(order: globalOrder)` for both hands, each scored against every
///    translation at once by a 3-D FFT cross-correlation (`ShellCorrelator`, whitened per shell), up to
///    `coarseRadius_px`.
/// 3. Local refinement (`SO3LocalGrid`, radius two steps, the step halved each round from a third of the global
///    step down to `finalStep_deg`) of the best `candidates` per hand: the first round at the coarse radius, the
///    second at the full `resolution_A`, after which only the best `refinedCandidates` per hand go on
///    (pseudo-symmetric solutions look alike at the coarse resolution). Every local rotation gets its own
///    continuous best translation (grid peak, then Newton steps on the analytic score), so rotations are compared
///    at their true optimum.
/// 4. The better hand wins.
/// Every score is computed independently of the others and ties go to the lower index, so the result does not
/// depend on `threads`, nor on the ranks a `RankShare` divides the candidates among.
public enum MapAlignment {
    /// Aligns `moving` (B) onto `reference` (A), both `box³` voxels (x fastest, origin `box/2`) with voxel size
    /// `pixelSize_A`, using frequencies up to `resolution_A` (choose it well below the maps' own resolution, e.g.
    /// 2–3× coarser). Runs on `threads` workers (default: all cores).
    public static func align(reference a: [Float], moving b: [Float], box: Int, pixelSize_A: Double,
                             resolution_A: Double, options: MapAlignmentOptions = .init(),
                             threads: Int? = nil) -> MapAlignmentResult {
        align(reference: a, moving: b, box: box, pixelSize_A: pixelSize_A, resolution_A: resolution_A,
              options: options, threads: threads, share: .whole) { _, _ in }
    }

    /// `align` divided among the ranks of `share` (collective over them; every rank passes both maps): each scores
    /// its share of every list of candidates and `exchange` (their allgather) gives every rank every score, so
    /// every rank gets the result one rank gets.
    public static func align(reference a: [Float], moving b: [Float], box: Int, pixelSize_A: Double,
                             resolution_A: Double, options: MapAlignmentOptions = .init(), threads: Int? = nil,
                             share: RankShare, exchange: SegmentExchange<Double>) rethrows -> MapAlignmentResult {
        precondition(a.count == box * box * box && b.count == a.count, "MapAlignment: maps must be \(box)³")
        precondition(pixelSize_A > 0 && resolution_A > 0, "MapAlignment: pixel size and resolution must be > 0")
        precondition(options.candidates >= 1 && options.refinedCandidates >= 1 && options.finalStep_deg > 0
                     && options.coarseRadius_px >= 1, "MapAlignment: bad options \(options)")
        let workers = max(1, threads ?? ParallelFor.defaultThreads)
        let radius = max(2, min(box / 2, Int(Double(box) * pixelSize_A / resolution_A)))
        let maps = CroppedMaps(reference: a, moving: b, box: box, radius: radius, threads: workers)
        let coarse = maps.correlator(radius: min(radius, options.coarseRadius_px))
        let fine = coarse.radius == radius ? coarse : maps.correlator(radius: radius)

        // Global search over the grid, both hands.
        let grid = SO3Grid(order: options.globalOrder)
        let hands = options.searchMirror ? [false, true] : [false]
        let trials = hands.flatMap { mirrored in
            (0..<grid.count).map { Candidate(rotation: grid.rotation(at: $0), mirrored: mirrored) }
        }
        let peaks = try evaluate(trials, with: coarse, refine: false, workers: workers, share: share, exchange: exchange)
        var candidates = hands.flatMap { hand in
            distinctBest(trials, peaks, hand: hand, count: options.candidates, separation_deg: grid.step_deg)
        }

        // Local rounds: the first at the coarse radius, then at the full one, each halving the step.
        var step_deg = grid.step_deg / 3
        var round = 0
        repeat {
            candidates = try refineLocally(candidates, step_deg: step_deg, with: round == 0 ? coarse : fine,
                                           workers: workers, share: share, exchange: exchange)
            // Prune once a round has run at the full resolution: pseudo-symmetric solutions look alike at the
            // coarse one, and only a converged local search ranks them right.
            if round == (fine === coarse ? 0 : 1) {
                candidates = hands.flatMap { hand in
                    candidates.filter { $0.mirrored == hand }.sortedByScore().prefix(options.refinedCandidates)
                }
            }
            round += 1
            step_deg /= 2
        } while step_deg >= options.finalStep_deg

        // The best of each hand; the better hand wins.
        let finals = hands.map { hand in candidates.filter { $0.mirrored == hand }.sortedByScore()[0] }.sortedByScore()
        let scale = Double(box) / Double(maps.box)
        return MapAlignmentResult(
            transform: MapTransform(rotation: finals[0].rotation, translation_px: finals[0].peak.translation_px * scale,
                                    mirrored: finals[0].mirrored),
            score: finals[0].peak.score, otherHandScore: finals.count > 1 ? finals[1].peak.score : nil,
            radius_px: radius)
    }

    /// A rotation and hand, with its best translation and score once evaluated.
    struct Candidate {
        var rotation: Rotation
        var mirrored: Bool
        var peak = ShellCorrelator.Peak(score: -.infinity, translation_px: .zero)
    }

    /// The `count` best-scoring trials of one hand, each at least `separation_deg` from every better one chosen
    /// (so that one broad peak does not take every place); ties go to the lower index.
    static func distinctBest(_ trials: [Candidate], _ peaks: [ShellCorrelator.Peak], hand: Bool, count: Int,
                             separation_deg: Double) -> [Candidate] {
        let order = trials.indices.sorted { (peaks[$0].score, $1) > (peaks[$1].score, $0) }
        var chosen = [Candidate]()
        for i in order where trials[i].mirrored == hand && chosen.count < count {
            let far = chosen.allSatisfy {
                $0.rotation.angularDistance_rad(to: trials[i].rotation) >= separation_deg * .pi / 180
            }
            if far { chosen.append(trials[i]) }
        }
        return chosen
    }

    /// The grid peak of every candidate, with `refine` polished to the continuous maximum over translations
    /// (`ShellCorrelator.refine`), on `workers` threads (each with its own scratch), each rank of `share` scoring
    /// its consecutive share of the candidates and `exchange` gathering the scores (4 values per candidate).
    static func evaluate(_ candidates: [Candidate], with correlator: ShellCorrelator, refine: Bool, workers: Int,
                         share: RankShare, exchange: SegmentExchange<Double>) rethrows -> [ShellCorrelator.Peak] {
        let mine = share.items(count: candidates.count)
        var values = [Double](repeating: 0, count: 4 * candidates.count)
        values.withUnsafeMutableBufferPointer { output in
            nonisolated(unsafe) let out = output
            ParallelFor.runPerWorker(count: mine.count, workers: min(workers, max(1, mine.count))) { _, range in
                let workspace = correlator.makeWorkspace()
                for i in (range.lowerBound + mine.lowerBound)..<(range.upperBound + mine.lowerBound) {
                    let grid = correlator.correlate(rotation: candidates[i].rotation,
                                                    mirrored: candidates[i].mirrored, workspace: workspace)
                    let peak = refine ? correlator.refine(from: grid.translation_px, workspace: workspace) : grid
                    (out[4 * i], out[4 * i + 1]) = (peak.score, peak.translation_px.x)
                    (out[4 * i + 2], out[4 * i + 3]) = (peak.translation_px.y, peak.translation_px.z)
                }
            }
        }
        if share.size > 1 {
            try values.withUnsafeMutableBufferPointer { buffer in
                try exchange(buffer.baseAddress!, share.allItems(count: candidates.count).map { 4 * $0.count })
            }
        }
        return candidates.indices.map {
            ShellCorrelator.Peak(score: values[4 * $0],
                                 translation_px: SIMD3(values[4 * $0 + 1], values[4 * $0 + 2], values[4 * $0 + 3]))
        }
    }

    /// Each candidate replaced by the best of its local grid (`SO3LocalGrid`, `step_deg`, radius two steps; the
    /// centre itself included), scored by `correlator`.
    static func refineLocally(_ candidates: [Candidate], step_deg: Double, with correlator: ShellCorrelator,
                              workers: Int, share: RankShare, exchange: SegmentExchange<Double>) rethrows -> [Candidate] {
        let offsets = SO3LocalGrid.offsets(step_deg: step_deg, radius_deg: 2 * step_deg)
        let trials = candidates.flatMap { c in
            offsets.map { Candidate(rotation: Rotation(axisAngle: $0) * c.rotation, mirrored: c.mirrored) }
        }
        let peaks = try evaluate(trials, with: correlator, refine: true, workers: workers, share: share,
                                 exchange: exchange)
        return candidates.indices.map { c in
            let range = (c * offsets.count)..<((c + 1) * offsets.count)
            let best = range.max { (peaks[$0].score, $1) < (peaks[$1].score, $0) }!
            var result = trials[best]
            result.peak = peaks[best]
            return result
        }
    }
}

extension Array where Element == MapAlignment.Candidate {
    /// Best score first; a stable sort, so equal scores keep their order.
    func sortedByScore() -> [Element] {
        enumerated().sorted { ($0.element.peak.score, $1.offset) > ($1.element.peak.score, $0.offset) }.map(\.element)
    }
}
