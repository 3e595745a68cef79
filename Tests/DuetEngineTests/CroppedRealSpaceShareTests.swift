import DuetComm
import DuetKernels
import XCTest

/// `CroppedRealSpace` divided among the ranks of a communicator (`RankShare`, with the communicator's distributed
/// transpose between the passes and its allgather for the stored ball) gives what one rank gives, bit for bit: each rank's z-slab of the loaded map, and the whole
/// stored volume on every rank.
final class CroppedRealSpaceShareTests: XCTestCase {
    func testRanksGetWhatOneRankGets() throws {
        let grid = FourierGrid(box: CoarseToFineSearchTests.box)
        let volume = FourierVolume(map: CoarseToFineSearchTests.blobMap([[3, 1, 0], [-4, 2, 3]]), grid: grid)
        let box = 16
        /// Per rank: its slab of the loaded map, and the volume stored back with a shift.
        func run(ranks: Int) throws -> [(map: [Float], volume: [SIMD2<Float>])] {
            try LocalCommunicator.run(size: ranks) { comm in
                let share = RankShare(rank: comm.rank, size: comm.size)
                let exchange: SegmentExchange<SIMD2<Float>> = { try comm.allgather($0, counts: $1) }
                let transpose: BlockTranspose = {
                    try comm.transpose($0, into: $1, rows: $2, columns: $3, tupleLength: $4, rowBlock: $5, columnBlock: $6)
                }
                let space = CroppedRealSpace(box: box, threads: 2)
                try space.load(from: volume, share: share, transpose: transpose)
                let slab = share.zSlab(box: box)
                let map = Array(space.map.buffer[(slab.lowerBound * box * box)..<(slab.upperBound * box * box)])
                let stored = FourierVolume(grid: grid)
                try space.store(into: stored, shift_px: [0.3, -0.2, 0.1], share: share, transpose: transpose,
                                exchange: exchange)
                return (map, Array(stored.data.buffer))
            }
        }
        let one = try run(ranks: 1)[0]
        XCTAssertTrue(one.map.contains { $0 != 0 } && one.volume.contains { $0 != .zero })
        for ranks in [2, 3, 5] {
            let many = try run(ranks: ranks)
            XCTAssertEqual(many.flatMap(\.map), one.map, "\(ranks) ranks: map")
            for part in many { XCTAssertEqual(part.volume, one.volume, "\(ranks) ranks: volume") }
        }
    }
}
