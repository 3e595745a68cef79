import DuetCore
import Foundation

/// Runs `load(slot)` once for every slot `0..<count` on one background thread, in a priority order that can be
/// changed while it runs (`prioritise`), and lets other threads wait for given slots. A slot whose load threw keeps
/// its error, and waiting for it throws that error. Which thread loaded a slot, and when, is invisible to the
/// caller: `load` must write only that slot's data.
final class ParticleLoader: @unchecked Sendable {
    private enum State: UInt8 { case pending, loading, done, failed }

    /// What the loader has done so far: slots loaded (or failed), the loading thread's CPU seconds in `load` (user
    /// and system: time blocked on the disk is not counted), and the seconds other threads spent blocked in
    /// `wait(for:)`.
    struct Statistics {
        var loaded = 0
        var loadSeconds = 0.0
        var waitSeconds = 0.0

        static func + (a: Statistics, b: Statistics) -> Statistics {
            Statistics(loaded: a.loaded + b.loaded, loadSeconds: a.loadSeconds + b.loadSeconds,
                       waitSeconds: a.waitSeconds + b.waitSeconds)
        }

        /// One line for the log: how many images were read, at what cost, and how long the work waited for them.
        var note: String {
            String(format: "particle images on rank 0: %d read in the background in %.1f CPU s (%.2f ms each); "
                   + "the work waited %.1f s for them", loaded, loadSeconds, 1000 * loadSeconds / Double(max(1, loaded)),
                   waitSeconds)
        }
    }

    private let load: (Int) throws -> Void
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var state: [State]
    private var errors: [Int: Error] = [:]
    private var queue: [Int]
    private var cursor = 0
    private var started = false
    private var cancelled = false
    private var statistics = Statistics()

    init(count: Int, load: @escaping (Int) throws -> Void) {
        self.load = load
        state = Array(repeating: .pending, count: count)
        queue = Array(0..<count)
    }

    /// Loads `slots` next, in that order, then every other slot not yet loaded, in slot order; starts the
    /// thread on the first call.
    func prioritise(_ slots: [Int]) {
        condition.lock()
        var listed = [Bool](repeating: false, count: state.count)
        var order = [Int]()
        order.reserveCapacity(state.count)
        for slot in slots where !listed[slot] {
            listed[slot] = true
            order.append(slot)
        }
        order += state.indices.lazy.filter { !listed[$0] }
        queue = order
        cursor = 0
        startIfNeeded()
        condition.unlock()
    }

    /// Returns once every slot of `slots` is loaded; throws the error of the first that failed. Starts the thread
    /// (in slot order) when nothing has started it.
    func wait(for slots: some Sequence<Int>) throws {
        condition.lock()
        defer { condition.unlock() }
        startIfNeeded()
        let start = ContinuousClock.now
        defer { statistics.waitSeconds += (ContinuousClock.now - start).seconds }
        for slot in slots {
            while state[slot] == .pending || state[slot] == .loading { condition.wait() }
            if state[slot] == .failed, let error = errors[slot] { throw error }
        }
    }

    /// The statistics so far.
    var progress: Statistics { condition.withLock { statistics } }

    /// Stops the thread after the slot it is loading (the owner is going away).
    func cancel() {
        condition.lock()
        cancelled = true
        condition.unlock()
    }

    /// Call with `condition` locked.
    private func startIfNeeded() {
        guard !started else { return }
        started = true
        let thread = Thread { [self] in run() }
        thread.name = "duet-particle-loader"
        thread.start()
    }

    private func run() {
        while let slot = claimNext() {
            var failure: Error?
            let start = Self.threadCPUSeconds()
            do { try load(slot) } catch { failure = error }
            let seconds = Self.threadCPUSeconds() - start
            condition.lock()
            state[slot] = failure == nil ? .done : .failed
            if let failure { errors[slot] = failure }
            statistics.loaded += 1
            statistics.loadSeconds += seconds
            condition.broadcast()
            condition.unlock()
        }
    }

    /// CPU seconds (user and system) the calling thread has used.
    private static func threadCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }

    /// The next pending slot in priority order, marked as loading; nil when none is left or the loader is cancelled.
    private func claimNext() -> Int? {
        condition.lock()
        defer { condition.unlock() }
        while cursor < queue.count && state[queue[cursor]] != .pending { cursor += 1 }
        guard !cancelled, cursor < queue.count else { return nil }
        state[queue[cursor]] = .loading
        return queue[cursor]
    }
}
