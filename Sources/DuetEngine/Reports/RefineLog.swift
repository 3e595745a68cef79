import DuetCore
import Foundation

/// The per-iteration history and log lines of `duet refine` (world rank 0).
struct RefineLog {
    struct Entry {
        var iteration: Int
        var resolution_A: Double
        var essA: Double
        var essB: Double
        var halfMapResolution_A: Double
        /// Seconds in each stage (`StageTimes.Stage` order), mean over the ranks.
        var stageSeconds: [Double]
    }

    let total: Int
    let first: Int
    let start = Date()
    private(set) var entries = [Entry]()
    private(set) var lines = [String]()
    private var lastLineIteration: Int

    init(total: Int, first: Int) {
        self.total = total
        self.first = first
        lastLineIteration = first
    }

    /// Records iteration `t` (1-based); returns its line every 10 iterations and at the last, with the mean time
    /// per iteration in each stage since the previous line.
    mutating func record(iteration t: Int, resolution_A: Double, ess: [Double], alignment: HalfMapAlignment.Outcome?,
                         stageSeconds: [Double], ranks: Int) -> String? {
        let halfMap_A = alignment?.halfMapResolution_A ?? .nan
        entries.append(Entry(iteration: t, resolution_A: resolution_A, essA: ess[0], essB: ess[1],
                             halfMapResolution_A: halfMap_A, stageSeconds: stageSeconds))
        guard t % 10 == 0 || t == total || t == first + 1 else { return nil }
        let recent = entries.suffix(t - lastLineIteration)
        let meanSeconds = StageTimes.Stage.allCases.map { stage in
            recent.map { $0.stageSeconds[stage.rawValue] }.reduce(0, +) / Double(recent.count)
        }
        lastLineIteration = t
        let elapsed = Date().timeIntervalSince(start)
        let eta = elapsed / Double(t - first) * Double(total - t)
        let halfMaps = halfMap_A.isNaN ? "  –    " : String(format: "%5.1f Å", halfMap_A)
        let line = String(format: "iteration %4d/%d  resolution %6.2f Å  ESS A %6.2f  B %6.2f  ", t, total,
                          resolution_A, ess[0], ess[1])
            + "half-map FSC 0.143 (last alignment) " + halfMaps
            + String(format: "  elapsed %6.0f s  ETA %6.0f s", elapsed, eta)
            + "  per iteration: " + Self.breakdown(meanSeconds, unit: "ms", scale: 1000)
            + (ranks > 1 ? " (mean of \(ranks) ranks)" : "")
        lines.append(line)
        return line
    }

    /// "search 120 ms, backproject 40 ms, …" for seconds per stage, times `scale` in `unit`.
    static func breakdown(_ seconds: [Double], unit: String, scale: Double) -> String {
        StageTimes.Stage.allCases.map { "\($0.name) " + String(format: "%.0f", seconds[$0.rawValue] * scale) + " \(unit)" }
            .joined(separator: ", ")
    }
}
