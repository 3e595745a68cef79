import Foundation

/// Splits `0..<count` into contiguous chunks run on `DispatchQueue.concurrentPerform`.
public enum ParallelFor {
    /// Number of cores the process may use.
    public static var defaultThreads: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// Calls `body` on disjoint ranges covering `0..<count`, at most `threads` (default: all cores) at a time.
    /// With one thread (or `count ≤ 1`) runs inline on the calling thread.
    public static func run(count: Int, threads: Int? = nil, _ body: @Sendable (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let workers = min(count, max(1, threads ?? defaultThreads))
        if workers == 1 { body(0..<count); return }
        // One contiguous share per worker, so that at most `workers` threads run (images cost about the same).
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            body((w * count / workers)..<((w + 1) * count / workers))
        }
    }

    /// Calls `body(worker, range)` once per worker `0..<workers` with that worker's contiguous share of
    /// `0..<count`; used where each worker owns private state (e.g. a back-projection accumulator).
    public static func runPerWorker(count: Int, workers: Int, _ body: @Sendable (Int, Range<Int>) -> Void) {
        guard count > 0 else { return }
        if workers <= 1 { body(0, 0..<count); return }
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            body(w, (w * count / workers)..<((w + 1) * count / workers))
        }
    }
}
