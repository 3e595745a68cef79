/// Wall-clock seconds one rank spends in each stage of a refinement. Stages nest: time measured for a stage
/// inside another (the allreduce inside the back-projection) counts for the inner stage only, so the stages add
/// up to the wall time they cover. Not thread-safe: measure from the rank's own thread only.
public final class StageTimes {
    /// The stages `duet refine` reports.
    public enum Stage: Int, CaseIterable, Sendable {
        /// Posteriors over poses (coarse-to-fine search), final pose assignment included.
        case poseSearch
        /// Gradient slices and their insertion, and the final reconstructions.
        case backProjection
        /// Every collective call, waiting for slower ranks included.
        case communication
        /// The volume step, real-space constraints and the noise model.
        case update
        /// Half-map alignment on world rank 0 and its application to half B.
        case alignment
        /// Reading particles, checkpoints and outputs.
        case io

        /// Short name for logs and tables.
        public var name: String {
            ["search", "backproject", "comm", "update", "align", "io"][rawValue]
        }
    }

    /// Seconds per stage, indexed by `Stage.rawValue`.
    public private(set) var seconds: [Double]
    private var open = [Duration]()

    public init() {
        seconds = Array(repeating: 0, count: Stage.allCases.count)
    }

    public subscript(stage: Stage) -> Double { seconds[stage.rawValue] }

    /// Runs `body`, counting its wall time (less the time of stages measured inside it) for `stage`.
    @discardableResult
    public func measure<T>(_ stage: Stage, _ body: () throws -> T) rethrows -> T {
        let start = ContinuousClock.now
        open.append(.zero)
        defer {
            let elapsed = ContinuousClock.now - start
            let inner = open.removeLast()
            seconds[stage.rawValue] += (elapsed - inner).seconds
            if !open.isEmpty { open[open.count - 1] += elapsed }
        }
        return try body()
    }
}

extension Duration {
    /// The duration in seconds.
    public var seconds: Double {
        let (whole, atto) = components
        return Double(whole) + Double(atto) * 1e-18
    }
}
