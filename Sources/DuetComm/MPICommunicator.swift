import CFFTW
import CFFTWMPI
import CMPI
import DuetCore
import DuetShim

/// A `Communicator` over a real MPI communicator. `MPICommunicator.world()` initialises MPI on first use; a
/// process run without `mpirun` is a singleton of size 1. Every MPI return code is checked.
public final class MPICommunicator: Communicator {
    /// The MPI handle (an OpenMPI pointer).
    public let handle: MPI_Comm
    public var mpi: MPICommunicator? { self }
    public let rank: Int
    public let size: Int
    private let ownsHandle: Bool
    /// FFTW-MPI transpose plans by shape, made on first use (planning is collective) and kept.
    private var transposePlans: [[Int]: OpaquePointer] = [:]

    private init(handle: MPI_Comm, ownsHandle: Bool) throws {
        self.handle = handle
        self.ownsHandle = ownsHandle
        var rank: Int32 = 0, size: Int32 = 0
        try MPIRuntime.check(MPI_Comm_rank(handle, &rank), "MPI_Comm_rank")
        try MPIRuntime.check(MPI_Comm_size(handle, &size), "MPI_Comm_size")
        self.rank = Int(rank)
        self.size = Int(size)
    }

    deinit {
        var finalised: Int32 = 0
        MPI_Finalized(&finalised)
        if finalised == 0 { transposePlans.values.forEach(fftwf_destroy_plan) }
        if ownsHandle && finalised == 0 {
            var comm: MPI_Comm? = handle
            MPI_Comm_free(&comm)
        }
    }

    /// The world communicator of every rank of the job (initialises MPI on first use).
    public static func world() throws -> MPICommunicator {
        MPIRuntime.initialise()
        return try MPICommunicator(handle: duet_mpi_comm_world(), ownsHandle: false)
    }

    public func split(color: Int, key: Int) throws -> Communicator {
        var newHandle: MPI_Comm? = nil
        try MPIRuntime.check(MPI_Comm_split(handle, Int32(color), Int32(key), &newHandle), "MPI_Comm_split")
        guard let newHandle else { throw DuetError("MPI_Comm_split returned no communicator") }
        MPI_Comm_set_errhandler(newHandle, duet_mpi_errors_return())
        return try MPICommunicator(handle: newHandle, ownsHandle: true)
    }

    public func barrier() throws {
        try MPIRuntime.check(MPI_Barrier(handle), "MPI_Barrier")
    }

    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
        // MPI counts are Int32: send large buffers in chunks.
        var offset = 0
        while offset < buffer.count {
            let chunk = min(buffer.count - offset, Int(Int32.max))
            try MPIRuntime.check(MPI_Bcast(base + offset, Int32(chunk), duet_mpi_byte(), Int32(root), handle),
                                 "MPI_Bcast")
            offset += chunk
        }
    }

    public func allreduceSumRaw(_ buffer: UnsafeMutableRawPointer, count: Int, kind: ReductionElementKind) throws {
        let (type, bytes) = Self.datatype(kind)
        var offset = 0
        while offset < count {
            let chunk = min(count - offset, Int(Int32.max))
            try MPIRuntime.check(MPI_Allreduce(duet_mpi_in_place(), buffer + offset * bytes, Int32(chunk), type,
                                               duet_mpi_op_sum(), handle), "MPI_Allreduce")
            offset += chunk
        }
    }

    public func reduceScatterSumRaw(_ buffer: UnsafeMutableRawPointer, counts: [Int], kind: ReductionElementKind) throws {
        let (type, bytes) = Self.datatype(kind)
        precondition(counts.count == size, "reduceScatterSumRaw: one count per rank")
        precondition(counts.allSatisfy { $0 <= Int(Int32.max) }, "reduceScatterSumRaw: a segment over 2³¹ elements")
        var recvCounts = counts.map(Int32.init)
        // In place, MPI leaves this rank's sum at the start of the buffer: move it to its segment.
        try MPIRuntime.check(MPI_Reduce_scatter(duet_mpi_in_place(), buffer, &recvCounts, type, duet_mpi_op_sum(),
                                                handle), "MPI_Reduce_scatter")
        let offset = counts[..<rank].reduce(0, +)
        if offset > 0 { (buffer + offset * bytes).copyMemory(from: buffer, byteCount: counts[rank] * bytes) }
    }

    public func allgatherRaw(_ buffer: UnsafeMutableRawPointer, byteCounts: [Int]) throws {
        precondition(byteCounts.count == size, "allgatherRaw: one count per rank")
        precondition(byteCounts.reduce(0, +) <= Int(Int32.max), "allgatherRaw: over 2³¹ bytes")
        var counts = byteCounts.map(Int32.init)
        var displacements = [Int32](repeating: 0, count: size)
        for r in 1..<max(1, size) { displacements[r] = displacements[r - 1] + counts[r - 1] }
        try MPIRuntime.check(MPI_Allgatherv(duet_mpi_in_place(), 0, duet_mpi_byte(), buffer, &counts, &displacements,
                                            duet_mpi_byte(), handle), "MPI_Allgatherv")
    }

    /// FFTW-MPI's transpose (`fftwf_mpi_plan_many_transpose`, `FFTW_ESTIMATE`), executed on the given buffers.
    public func transpose(_ input: UnsafeMutablePointer<Float>, into output: UnsafeMutablePointer<Float>, rows: Int,
                          columns: Int, tupleLength: Int, rowBlock: Int, columnBlock: Int) throws {
        precondition(rowBlock * size >= rows && columnBlock * size >= columns, "transpose: blocks do not cover the matrix")
        let shape = [rows, columns, tupleLength, rowBlock, columnBlock]
        if transposePlans[shape] == nil {
            guard let plan = fftwf_mpi_plan_many_transpose(rows, columns, tupleLength, rowBlock, columnBlock, input,
                                                           output, handle, FFTW_ESTIMATE) else {
                throw DuetError("FFTW-MPI could not plan a \(rows) × \(columns) transpose of \(tupleLength)-float tuples")
            }
            transposePlans[shape] = plan
        }
        fftwf_mpi_execute_r2r(transposePlans[shape]!, input, output)
    }

    public func allreduceMax(_ value: Double) throws -> Double {
        var result = value
        try MPIRuntime.check(MPI_Allreduce(duet_mpi_in_place(), &result, 1, duet_mpi_double(), duet_mpi_op_max(), handle),
                             "MPI_Allreduce(max)")
        return result
    }

    public func gather(_ bytes: [UInt8], root: Int) throws -> [[UInt8]]? {
        var myCount = Int32(bytes.count)
        var counts = [Int32](repeating: 0, count: rank == root ? size : 0)
        try MPIRuntime.check(MPI_Gather(&myCount, 1, duet_mpi_int32(), &counts, 1, duet_mpi_int32(),
                                        Int32(root), handle), "MPI_Gather")
        var displacements = [Int32](repeating: 0, count: counts.count)
        var total = 0
        for i in counts.indices {
            displacements[i] = Int32(total)
            total += Int(counts[i])
        }
        guard total <= Int(Int32.max) else { throw DuetError("gather of \(total) bytes exceeds the MPI limit") }
        var received = [UInt8](repeating: 0, count: total)
        var sendBuffer = bytes
        try MPIRuntime.check(MPI_Gatherv(&sendBuffer, myCount, duet_mpi_byte(), &received, &counts, &displacements,
                                         duet_mpi_byte(), Int32(root), handle), "MPI_Gatherv")
        guard rank == root else { return nil }
        return counts.indices.map { i in
            Array(received[Int(displacements[i])..<Int(displacements[i]) + Int(counts[i])])
        }
    }

    /// The MPI datatype of `kind` and its size in bytes.
    private static func datatype(_ kind: ReductionElementKind) -> (MPI_Datatype?, Int) {
        switch kind {
        case .float: (duet_mpi_float(), 4)
        case .double: (duet_mpi_double(), 8)
        case .int64: (duet_mpi_int64(), 8)
        case .complexFloat: (duet_mpi_c_float_complex(), 8)
        case .complexDouble: (duet_mpi_c_double_complex(), 16)
        }
    }
}
