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

    /// Calls `body(worker, index)` for every index of `0..<count`, on at most `workers` threads, each worker claiming
    /// the next unclaimed index when it is done with its last (so items of uneven cost balance out); used where items
    /// cost very differently and each worker owns private state. The order in which a worker meets its indices is
    /// not fixed, so callers must combine results by index.
    public static func runClaiming(count: Int, workers: Int, _ body: @Sendable (Int, Int) -> Void) {
        guard count > 0 else { return }
        let workers = min(count, workers)
        if workers <= 1 { for index in 0..<count { body(0, index) }; return }
        let next = ClaimCounter()
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            while let index = next.claim(below: count) { body(w, index) }
        }
    }

    /// `transform(index)` for every index of `0..<count`, in index order, computed on at most `threads` threads
    /// (default: all cores) that claim indices one at a time (`runClaiming`).
    public static func map<T>(count: Int, threads: Int?, _ transform: @Sendable (Int) -> T) -> [T] {
        var results = [T?](repeating: nil, count: count)
        results.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let out = buffer.baseAddress
            runClaiming(count: count, workers: max(1, threads ?? defaultThreads)) { _, index in
                out?[index] = transform(index)
            }
        }
        return results.map { $0! }
    }
}

/// The next index to hand out, behind a lock.
private final class ClaimCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0

    func claim(below count: Int) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard next < count else { return nil }
        next += 1
        return next - 1
    }
}
