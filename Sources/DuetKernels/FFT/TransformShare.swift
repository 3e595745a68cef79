/// How the ranks of a group divide a `PaddedCubeTransform`: each does the x pass on its own z-slab of the map
/// (`zSlab`) and the y and z passes on its own `kx` planes (`kxPlanes`); between the passes the caller's exchange
/// (`PlaneExchange`) makes the intermediate planes whole on every rank. Each 1-D transform is the same whichever rank
/// runs it, so the results do not depend on the number of ranks. `whole` is one rank doing everything.
public struct TransformShare: Sendable, Equatable {
    public let rank: Int
    public let size: Int

    public init(rank: Int, size: Int) {
        precondition(size >= 1 && (0..<size).contains(rank), "TransformShare: rank \(rank) of \(size)")
        self.rank = rank
        self.size = size
    }

    /// One rank that does every pass; nothing to exchange.
    public static let whole = TransformShare(rank: 0, size: 1)

    /// Each rank's z-slab of a `box³` map: as even as whole planes allow.
    public func zSlabs(box: Int) -> [Range<Int>] {
        (0..<size).map { ($0 * box / size)..<(($0 + 1) * box / size) }
    }

    /// This rank's z-slab.
    public func zSlab(box: Int) -> Range<Int> { zSlabs(box: box)[rank] }

    /// Each rank's consecutive `kx` planes of `0…limit`, balanced by the 1-D transforms a plane needs (`box` along
    /// y or z, and one per `ky` inside the disc along the other).
    public func kxPlanes(limit: Int, box: Int) -> [Range<Int>] {
        let cost = (0...limit).map { kx in Double(box + 2 * PaddedCubeTransform.halfWidth(limit * limit - kx * kx) + 1) }
        let total = cost.reduce(0, +)
        var bounds = [0], running = 0.0
        for (kx, c) in cost.enumerated() {
            running += c
            while bounds.count < size && running >= total * Double(bounds.count) / Double(size) { bounds.append(kx + 1) }
        }
        while bounds.count <= size { bounds.append(limit + 1) }
        bounds[size] = limit + 1
        return (0..<size).map { bounds[$0]..<max(bounds[$0], bounds[$0 + 1]) }
    }
}

/// Makes every rank's consecutive segment of `values` (`counts[r]` complex values for rank `r`, in rank order)
/// whole on every rank of a `TransformShare`: a communicator's allgather. Not called for one rank.
public typealias PlaneExchange = (_ values: UnsafeMutablePointer<SIMD2<Float>>, _ counts: [Int]) throws -> Void
