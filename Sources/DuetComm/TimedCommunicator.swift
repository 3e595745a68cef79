import DuetCore

/// A communicator that counts the wall time of every collective call, waiting for slower ranks included, as
/// `.communication` in `times`; the communicators it splits off count into the same `times`.
public final class TimedCommunicator: Communicator {
    private let base: Communicator
    public let times: StageTimes

    public init(_ base: Communicator, times: StageTimes) {
        self.base = base
        self.times = times
    }

    public var rank: Int { base.rank }
    public var size: Int { base.size }
    public var mpi: MPICommunicator? { base.mpi }

    public func split(color: Int, key: Int) throws -> Communicator {
        TimedCommunicator(try times.measure(.communication) { try base.split(color: color, key: key) }, times: times)
    }

    public func barrier() throws {
        try times.measure(.communication) { try base.barrier() }
    }

    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
        try times.measure(.communication) { try base.broadcast(buffer, root: root) }
    }

    public func allreduceSumRaw(_ buffer: UnsafeMutableRawPointer, count: Int, kind: ReductionElementKind) throws {
        try times.measure(.communication) { try base.allreduceSumRaw(buffer, count: count, kind: kind) }
    }

    public func reduceScatterSumRaw(_ buffer: UnsafeMutableRawPointer, counts: [Int], kind: ReductionElementKind) throws {
        try times.measure(.communication) { try base.reduceScatterSumRaw(buffer, counts: counts, kind: kind) }
    }

    public func allgatherRaw(_ buffer: UnsafeMutableRawPointer, byteCounts: [Int]) throws {
        try times.measure(.communication) { try base.allgatherRaw(buffer, byteCounts: byteCounts) }
    }

    public func transpose(_ input: UnsafeMutablePointer<Float>, into output: UnsafeMutablePointer<Float>, rows: Int,
                          columns: Int, tupleLength: Int, rowBlock: Int, columnBlock: Int) throws {
        try times.measure(.communication) {
            try base.transpose(input, into: output, rows: rows, columns: columns, tupleLength: tupleLength,
                               rowBlock: rowBlock, columnBlock: columnBlock)
        }
    }

    public func allreduceMax(_ value: Double) throws -> Double {
        try times.measure(.communication) { try base.allreduceMax(value) }
    }

    public func gather(_ bytes: [UInt8], root: Int) throws -> [[UInt8]]? {
        try times.measure(.communication) { try base.gather(bytes, root: root) }
    }
}
