import DuetComm
import XCTest

/// The test process itself becomes an MPI singleton (size 1), as a plain `duet` run without `mpirun` does.
final class MPISingletonTests: XCTestCase {
    func testSingletonWorldHasOneRankAndCollectivesWork() throws {
        let world = try MPICommunicator.world()
        XCTAssertEqual(world.size, 1)
        XCTAssertEqual(world.rank, 0)
        var values: [SIMD2<Float>] = [[1, 2], [3, 4]]
        try world.allreduceSum(&values)
        XCTAssertEqual(values, [[1, 2], [3, 4]])
        let half = try world.split(color: 0, key: 0)
        XCTAssertEqual(half.size, 1)
        XCTAssertEqual(try half.allreduceSum(Int64(7)), 7)
        XCTAssertEqual(try world.broadcast("map", root: 0), "map")
        XCTAssertEqual(try world.gather([1, 2, 3], root: 0), [[1, 2, 3]])
        try world.barrier()
    }
}
