import DuetCore

/// Element types a `Communicator` can sum-allreduce. Complex numbers are `SIMD2` (real, imaginary), laid out as
/// C `float complex` / `double complex`.
public enum ReductionElementKind: Sendable {
    case float, double, int64, complexFloat, complexDouble
}

/// A scalar type that `Communicator.allreduceSum` accepts.
public protocol AllreduceElement: Sendable {
    static var reductionKind: ReductionElementKind { get }
}

extension Float: AllreduceElement { public static var reductionKind: ReductionElementKind { .float } }
extension Double: AllreduceElement { public static var reductionKind: ReductionElementKind { .double } }
extension Int64: AllreduceElement { public static var reductionKind: ReductionElementKind { .int64 } }
extension Int: AllreduceElement { public static var reductionKind: ReductionElementKind { .int64 } }
extension SIMD2: AllreduceElement where Scalar: AllreduceElement & BinaryFloatingPoint {
    public static var reductionKind: ReductionElementKind {
        Scalar.self == Float.self ? .complexFloat : .complexDouble
    }
}

/// A group of cooperating ranks: the real MPI one (`MPICommunicator`) or an in-process one that runs ranks as
/// threads (`LocalCommunicator`, for tests). Ranks are numbered 0..<size.
///
/// **Collective** calls must be made by every rank of the communicator, in the same order; the others are local.
/// Every call reports failure as a thrown `DuetError` naming the operation.
public protocol Communicator: AnyObject {
    /// This process's rank in the communicator (local).
    var rank: Int { get }
    /// Number of ranks (local).
    var size: Int { get }

    /// Splits into sub-communicators of the ranks that pass the same `color`, ordered by (`key`, old rank)
    /// (collective, like `MPI_Comm_split`).
    func split(color: Int, key: Int) throws -> Communicator

    /// Waits until every rank has arrived (collective).
    func barrier() throws

    /// Copies `root`'s bytes into every other rank's `buffer`; all buffers have the same size (collective).
    func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws

    /// Replaces `buffer` on every rank by the element-wise sum over ranks; all ranks pass the same count
    /// (collective). `count` is in elements of `kind`.
    func allreduceSumRaw(_ buffer: UnsafeMutableRawPointer, count: Int, kind: ReductionElementKind) throws

    /// Sums every rank's `buffer` element-wise and leaves each rank its own segment of the sum: the segments are
    /// consecutive, `counts[r]` elements for rank `r` in rank order (`counts` the same on every rank, summing to the
    /// buffer's length), and after the call rank `r`'s segment holds the sum; the rest of `buffer` is undefined
    /// (collective, like `MPI_Reduce_scatter`). Moves half the data of an allreduce.
    func reduceScatterSumRaw(_ buffer: UnsafeMutableRawPointer, counts: [Int], kind: ReductionElementKind) throws

    /// Copies every rank's segment of `buffer` into the others': consecutive segments of `byteCounts[r]` bytes, rank
    /// `r`'s in rank order (`byteCounts` the same on every rank); each rank's own segment is the input (collective,
    /// like `MPI_Allgatherv` in place).
    func allgatherRaw(_ buffer: UnsafeMutableRawPointer, byteCounts: [Int]) throws

    /// Transposes a `rows × columns` matrix of tuples of `tupleLength` floats distributed by blocks of rows: rank
    /// `r` holds rows `r·rowBlock ..< min((r + 1)·rowBlock, rows)` in `input` (row-major, each tuple contiguous) and
    /// receives rows `r·columnBlock ..< min((r + 1)·columnBlock, columns)` of the `columns × rows` transpose in
    /// `output` (collective; FFTW-MPI's distributed transpose under MPI). `rowBlock · size ≥ rows` and
    /// `columnBlock · size ≥ columns`, the same on every rank; `input` may be overwritten, and each buffer holds at
    /// least `max(rowBlock · columns, columnBlock · rows) · tupleLength` floats. Each rank receives only its own
    /// block: `1/size` of what an allgather moves.
    func transpose(_ input: UnsafeMutablePointer<Float>, into output: UnsafeMutablePointer<Float>, rows: Int,
                   columns: Int, tupleLength: Int, rowBlock: Int, columnBlock: Int) throws

    /// The largest of every rank's `value` (collective).
    func allreduceMax(_ value: Double) throws -> Double

    /// Collects each rank's bytes (any length) on `root`, in rank order; other ranks get nil (collective).
    func gather(_ bytes: [UInt8], root: Int) throws -> [[UInt8]]?

    /// The MPI communicator that carries this one's calls, for libraries that talk to MPI themselves (parallel
    /// HDF5); nil for an in-process communicator (local).
    var mpi: MPICommunicator? { get }
}

extension Communicator {
    public var mpi: MPICommunicator? { nil }

    /// True on rank 0.
    public var isRoot: Bool { rank == 0 }

    /// In-place element-wise sum over ranks (collective).
    public func allreduceSum<T: AllreduceElement>(_ buffer: UnsafeMutableBufferPointer<T>) throws {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
        try allreduceSumRaw(UnsafeMutableRawPointer(base), count: buffer.count, kind: T.reductionKind)
    }

    /// In-place element-wise sum over ranks of an array (collective).
    public func allreduceSum<T: AllreduceElement>(_ array: inout [T]) throws {
        try array.withUnsafeMutableBufferPointer { try allreduceSum($0) }
    }

    /// `reduceScatterSumRaw` of a typed buffer: rank `r` ends up with the sum of the elements in its segment
    /// (`counts` in elements; collective).
    public func reduceScatterSum<T: AllreduceElement>(_ buffer: UnsafeMutableBufferPointer<T>, counts: [Int]) throws {
        precondition(counts.count == size && counts.reduce(0, +) == buffer.count, "reduceScatterSum: counts")
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
        try reduceScatterSumRaw(UnsafeMutableRawPointer(base), counts: counts, kind: T.reductionKind)
    }

    /// `allgatherRaw` of typed values: rank `r`'s segment of `counts[r]` elements goes to every rank; `values` holds
    /// all the segments (collective).
    public func allgather<T: BitwiseCopyable>(_ values: UnsafeMutablePointer<T>, counts: [Int]) throws {
        precondition(counts.count == size, "allgather: one count per rank")
        guard counts.contains(where: { $0 > 0 }) else { return }
        try allgatherRaw(UnsafeMutableRawPointer(values), byteCounts: counts.map { $0 * MemoryLayout<T>.stride })
    }

    /// `allgather` of a buffer that the segments fill exactly (collective).
    public func allgather<T: BitwiseCopyable>(_ buffer: UnsafeMutableBufferPointer<T>, counts: [Int]) throws {
        precondition(counts.count == size && counts.reduce(0, +) == buffer.count, "allgather: counts")
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
        try allgather(base, counts: counts)
    }

    /// Sum of one value over ranks (collective).
    public func allreduceSum<T: AllreduceElement>(_ value: T) throws -> T {
        var array = [value]
        try allreduceSum(&array)
        return array[0]
    }

    /// Sums `rows` (consecutive rows of `rowLength`) over ranks and then over rows, in row order. Each element must
    /// be nonzero on at most one rank (each rank fills the rows it owns, zeros elsewhere), so the allreduce adds
    /// only zeros and is exact: the result is bit-identical whatever the number of ranks (collective).
    public func sumDisjointRows(_ rows: [Double], rowLength: Int) throws -> [Double] {
        precondition(rowLength > 0 && rows.count % rowLength == 0, "sumDisjointRows: ragged rows")
        var all = rows
        try allreduceSum(&all)
        var total = [Double](repeating: 0, count: rowLength)
        for start in stride(from: 0, to: all.count, by: rowLength) {
            for j in 0..<rowLength { total[j] += all[start + j] }
        }
        return total
    }

    /// Collects each rank's values (any count) on `root`, in rank order; other ranks get nil (collective). The
    /// values travel as their bytes, so `T` must be trivially copyable.
    public func gather<T: BitwiseCopyable>(_ values: [T], root: Int) throws -> [[T]]? {
        let bytes = values.withUnsafeBytes { Array($0) }
        return try gather(bytes, root: root)?.map { rankBytes in
            [T](unsafeUninitializedCapacity: rankBytes.count / MemoryLayout<T>.stride) { buffer, count in
                rankBytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(buffer).copyMemory(from: $0) }
                count = buffer.count
            }
        }
    }

    /// Broadcasts a trivially copyable array whose length every rank already knows (collective).
    public func broadcast<T: BitwiseCopyable>(_ array: inout [T], root: Int) throws {
        try array.withUnsafeMutableBytes { try broadcast($0, root: root) }
    }

    /// Broadcasts a string from `root` to every rank (collective, two broadcasts).
    public func broadcast(_ string: String, root: Int) throws -> String {
        var length = [Int64(string.utf8.count)]
        try broadcast(&length, root: root)
        var bytes = rank == root ? Array(string.utf8) : [UInt8](repeating: 0, count: Int(length[0]))
        try broadcast(&bytes, root: root)
        return String(decoding: bytes, as: UTF8.self)
    }
}
