/// One rank's part of work that the ranks of a group divide, and how: for a `PaddedCubeTransform` each rank does the
/// x pass on its own z-slab of the map (`zSlab`) and the y and z passes on its own `kx` planes (`kxPlanes`), both in
/// FFTW-MPI's block distribution, the caller's distributed transpose (`BlockTranspose`) moving the intermediate
/// values between them; for a list of independent items (`MapAlignment`'s candidates) each rank does its
/// consecutive `items` range. Each item
/// is computed the same whichever rank computes it, so the results do not depend on the number of ranks. `whole` is
/// one rank doing everything.
public struct RankShare: Sendable, Equatable {
    public let rank: Int
    public let size: Int

    public init(rank: Int, size: Int) {
        precondition(size >= 1 && (0..<size).contains(rank), "RankShare: rank \(rank) of \(size)")
        self.rank = rank
        self.size = size
    }

    /// One rank that does everything; nothing to exchange.
    public static let whole = RankShare(rank: 0, size: 1)

    /// This rank's consecutive share of `count` items, as even as whole items allow.
    public func items(count: Int) -> Range<Int> { (rank * count / size)..<((rank + 1) * count / size) }

    /// Every rank's share of `count` items, in rank order.
    public func allItems(count: Int) -> [Range<Int>] {
        (0..<size).map { RankShare(rank: $0, size: size).items(count: count) }
    }

    /// Each rank's z-slab of a `box³` map: `zBlock(box:)` planes each in rank order, the last ranks fewer or none
    /// (FFTW-MPI's block distribution).
    public func zSlabs(box: Int) -> [Range<Int>] { blocks(count: box) }

    /// This rank's z-slab.
    public func zSlab(box: Int) -> Range<Int> { zSlabs(box: box)[rank] }

    /// The z-planes of a full slab.
    public func zBlock(box: Int) -> Int { block(count: box) }

    /// Each rank's consecutive `kx` planes of `0…limit`, `kxBlock(limit:)` each in rank order (FFTW-MPI's block
    /// distribution: the planes near `kx = 0` hold more coefficients, an imbalance of at most about 15 % in the y
    /// and z passes, which are a small part of an update).
    public func kxPlanes(limit: Int) -> [Range<Int>] { blocks(count: limit + 1) }

    /// The `kx` planes of a full share.
    public func kxBlock(limit: Int) -> Int { block(count: limit + 1) }

    private func block(count: Int) -> Int { max(1, (count + size - 1) / size) }

    private func blocks(count: Int) -> [Range<Int>] {
        let block = block(count: count)
        return (0..<size).map { min($0 * block, count)..<min(($0 + 1) * block, count) }
    }

    /// `count` consecutive ranges covering the items `0..<costs.count`, share `k` ending at the first item boundary
    /// where the running cost reaches `(k + 1)/count` of the total (so shares may be empty when items are few).
    public static func balanced(costs: [Double], count: Int) -> [Range<Int>] {
        let total = costs.reduce(0, +)
        var bounds = [0], running = 0.0
        for (item, cost) in costs.enumerated() {
            running += cost
            while bounds.count < count && running >= total * Double(bounds.count) / Double(count) {
                bounds.append(item + 1)
            }
        }
        while bounds.count <= count { bounds.append(costs.count) }
        bounds[count] = costs.count
        return (0..<count).map { bounds[$0]..<max(bounds[$0], bounds[$0 + 1]) }
    }
}

/// Makes every rank's consecutive segment of `values` (`counts[r]` values for rank `r`, in rank order) whole on every
/// rank of a `RankShare`: a communicator's allgather. Not called for one rank.
public typealias SegmentExchange<Value> = (_ values: UnsafeMutablePointer<Value>, _ counts: [Int]) throws -> Void

/// Transposes a `rows × columns` matrix of `tupleLength`-float tuples distributed over the ranks of a `RankShare` by
/// blocks of rows, each rank receiving its block of the transpose's rows (`Communicator.transpose`, FFTW-MPI's
/// under MPI; the arguments in its order: input, output, rows, columns, tupleLength, rowBlock, columnBlock). Not
/// called for one rank.
public typealias BlockTranspose = (_ input: UnsafeMutablePointer<Float>, _ output: UnsafeMutablePointer<Float>,
                                   _ rows: Int, _ columns: Int, _ tupleLength: Int, _ rowBlock: Int,
                                   _ columnBlock: Int) throws -> Void
