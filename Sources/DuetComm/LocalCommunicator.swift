import DuetCore
import Foundation

/// An in-process `Communicator` whose ranks are threads of one process, for fast tests of distributed code
/// without `mpirun`. `LocalCommunicator.run(size:)` starts the ranks and returns their results in rank order.
/// Reductions sum in rank order on every rank, so all ranks get bit-identical results.
public final class LocalCommunicator: Communicator, @unchecked Sendable {
    public let rank: Int
    public var size: Int { group.size }
    private let group: Group

    private init(rank: Int, group: Group) {
        self.rank = rank
        self.group = group
    }

    /// Runs `body` on `size` threads, each with its own rank of one communicator, and returns the results in rank
    /// order. A rank that throws makes `run` rethrow the first error after every thread has finished; a rank
    /// that throws before a collective call the others wait in makes the others fail too instead of hanging.
    public static func run<Result: Sendable>(size: Int, _ body: @escaping @Sendable (LocalCommunicator) throws -> Result) throws -> [Result] {
        precondition(size >= 1, "a communicator has at least one rank")
        let group = Group(size: size)
        let results = ResultSlots<Result>(count: size)
        let done = DispatchGroup()
        for rank in 0..<size {
            done.enter()
            let thread = Thread {
                defer { done.leave() }
                do {
                    results.set(rank, .success(try body(LocalCommunicator(rank: rank, group: group))))
                } catch {
                    group.fail()
                    results.set(rank, .failure(error))
                }
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        done.wait()
        return try results.values()
    }

    public func split(color: Int, key: Int) throws -> Communicator {
        let entries = try group.exchange(rank: rank, value: (color, key))
        let members = entries.indices.filter { entries[$0].0 == color }
            .sorted { (entries[$0].1, $0) < (entries[$1].1, $1) }
        // The lowest old rank of each colour creates the new group and everyone picks theirs up.
        let leader = members.min()!
        let created: Group? = rank == leader ? Group(size: members.count) : nil
        let groups = try group.exchange(rank: rank, value: created)
        return LocalCommunicator(rank: members.firstIndex(of: rank)!, group: groups[leader]!)
    }

    public func barrier() throws {
        try group.barrier()
    }

    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
        let source = rank == root ? Array(buffer) : []
        let all = try group.exchange(rank: rank, value: source)
        guard rank != root else { return }
        guard all[root].count == buffer.count else {
            throw DuetError("broadcast: rank \(rank) has \(buffer.count) bytes, root has \(all[root].count)")
        }
        all[root].withUnsafeBytes { buffer.copyMemory(from: $0) }
    }

    public func allreduceSumRaw(_ buffer: UnsafeMutableRawPointer, count: Int, kind: ReductionElementKind) throws {
        switch kind {
        case .float: try reduce(buffer.assumingMemoryBound(to: Float.self), count: count)
        case .double: try reduce(buffer.assumingMemoryBound(to: Double.self), count: count)
        case .int64: try reduce(buffer.assumingMemoryBound(to: Int64.self), count: count)
        case .complexFloat: try reduce(buffer.assumingMemoryBound(to: Float.self), count: 2 * count)
        case .complexDouble: try reduce(buffer.assumingMemoryBound(to: Double.self), count: 2 * count)
        }
    }

    public func reduceScatterSumRaw(_ buffer: UnsafeMutableRawPointer, counts: [Int], kind: ReductionElementKind) throws {
        // Every rank sums the whole buffer in rank order, which leaves its own segment right (and the rest too).
        try allreduceSumRaw(buffer, count: counts.reduce(0, +), kind: kind)
    }

    public func allgatherRaw(_ buffer: UnsafeMutableRawPointer, byteCounts: [Int]) throws {
        let offset = byteCounts[..<rank].reduce(0, +)
        let mine = Array(UnsafeRawBufferPointer(start: buffer + offset, count: byteCounts[rank]))
        let all = try group.exchange(rank: rank, value: mine)
        var start = 0
        for (source, bytes) in all.enumerated() {
            if source != rank && !bytes.isEmpty { bytes.withUnsafeBytes { (buffer + start).copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
            start += byteCounts[source]
        }
    }

    public func transpose(_ input: UnsafeMutablePointer<Float>, into output: UnsafeMutablePointer<Float>, rows: Int,
                          columns: Int, tupleLength: Int, rowBlock: Int, columnBlock: Int) throws {
        precondition(rowBlock * size >= rows && columnBlock * size >= columns, "transpose: blocks do not cover the matrix")
        let inputs = try group.exchange(rank: rank, value: UnsafeSendablePointer(input))
        let h = tupleLength
        let myColumns = min(rank * columnBlock, columns)..<min((rank + 1) * columnBlock, columns)
        for (source, pointer) in inputs.enumerated() {
            let sourceRows = min(source * rowBlock, rows)..<min((source + 1) * rowBlock, rows)
            let from = pointer.pointer.assumingMemoryBound(to: Float.self)
            for c in myColumns {
                for r in sourceRows {
                    (output + ((c - myColumns.lowerBound) * rows + r) * h)
                        .update(from: from + ((r - sourceRows.lowerBound) * columns + c) * h, count: h)
                }
            }
        }
        // Everyone must have read every input before anyone overwrites its own.
        try group.barrier()
    }

    public func allreduceMax(_ value: Double) throws -> Double {
        try group.exchange(rank: rank, value: value).max()!
    }

    public func gather(_ bytes: [UInt8], root: Int) throws -> [[UInt8]]? {
        let all = try group.exchange(rank: rank, value: bytes)
        return rank == root ? all : nil
    }

    /// Sums every rank's buffer in rank order into each rank's own buffer.
    private func reduce<T: AdditiveArithmetic>(_ buffer: UnsafeMutablePointer<T>, count: Int) throws {
        let pointers = try group.exchange(rank: rank, value: UnsafeSendablePointer(buffer))
        var sum = [T](repeating: .zero, count: count)
        for source in pointers {
            let p = source.pointer.assumingMemoryBound(to: T.self)
            for i in 0..<count { sum[i] += p[i] }
        }
        // Everyone must have read every buffer before anyone overwrites its own.
        try group.barrier()
        sum.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress!, count: count) }
    }
}

/// A raw pointer passed between the threads of a `LocalCommunicator`; the collective protocol orders the accesses.
private struct UnsafeSendablePointer: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    init<T>(_ typed: UnsafeMutablePointer<T>) { pointer = UnsafeMutableRawPointer(typed) }
}

/// Shared state of one in-process communicator: a reusable barrier and one exchange slot per rank.
private final class Group: @unchecked Sendable {
    let size: Int
    private let condition = NSCondition()
    private var arrived = 0
    private var generation = 0
    private var failed = false
    private var slots: [Any?]

    init(size: Int) {
        self.size = size
        slots = Array(repeating: nil, count: size)
    }

    /// Marks the group failed and wakes every waiting rank, which then throws.
    func fail() {
        condition.lock()
        failed = true
        condition.broadcast()
        condition.unlock()
    }

    func barrier() throws {
        condition.lock()
        defer { condition.unlock() }
        if failed { throw DuetError("another rank failed") }
        let myGeneration = generation
        arrived += 1
        if arrived == size {
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while generation == myGeneration && !failed { condition.wait() }
            if failed { throw DuetError("another rank failed") }
        }
    }

    /// Every rank deposits a value; after a barrier each reads all of them in rank order; a second barrier
    /// keeps the slots stable until everyone has read them.
    func exchange<Value>(rank: Int, value: Value) throws -> [Value] {
        condition.lock()
        slots[rank] = value
        condition.unlock()
        try barrier()
        condition.lock()
        let values = slots.map { $0 as! Value }
        condition.unlock()
        try barrier()
        return values
    }
}

/// Per-rank results of `LocalCommunicator.run`.
private final class ResultSlots<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Swift.Result<Value, Error>?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ result: Swift.Result<Value, Error>) {
        lock.lock()
        slots[index] = result
        lock.unlock()
    }

    func values() throws -> [Value] {
        lock.lock()
        defer { lock.unlock() }
        // Report a rank's own error rather than the "another rank failed" it caused elsewhere.
        let errors = slots.compactMap { slot -> Error? in
            if case .failure(let error)? = slot { return error } else { return nil }
        }
        if let first = errors.first(where: { ($0 as? DuetError)?.message != "another rank failed" }) ?? errors.first {
            throw first
        }
        return slots.map { try! $0!.get() }
    }
}
