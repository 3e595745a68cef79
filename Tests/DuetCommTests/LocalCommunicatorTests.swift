import DuetComm
import DuetCore
import XCTest

final class LocalCommunicatorTests: XCTestCase {
    func testAllreduceOfEveryElementTypeAtSeveralSizes() throws {
        for size in 1...5 {
            let results = try LocalCommunicator.run(size: size) { comm -> [Double] in
                let r = comm.rank
                var floats = (0..<1000).map { Float($0 * (r + 1)) }
                var doubles = (0..<7).map { Double($0) + Double(r) * 0.5 }
                var ints: [Int64] = [Int64(r), 1, -Int64(r)]
                var complexF = [SIMD2<Float>(Float(r), 1), SIMD2<Float>(2, -Float(r))]
                var complexD = [SIMD2<Double>(Double(r), 3)]
                try comm.allreduceSum(&floats)
                try comm.allreduceSum(&doubles)
                try comm.allreduceSum(&ints)
                try comm.allreduceSum(&complexF)
                try comm.allreduceSum(&complexD)
                return [Double(floats[999]), doubles[6], Double(ints[0]), Double(ints[1]), Double(ints[2]),
                        Double(complexF[0].x), Double(complexF[0].y), Double(complexF[1].y),
                        complexD[0].x, complexD[0].y]
            }
            let n = Double(size), rankSum = n * (n - 1) / 2
            for result in results {
                XCTAssertEqual(result, [999 * (rankSum + n), 6 * n + rankSum * 0.5, rankSum, n, -rankSum,
                                        rankSum, n, -rankSum, rankSum, 3 * n], "size \(size)")
            }
        }
    }

    func testSplitIntoHalvesGivesIndependentCommunicators() throws {
        let results = try LocalCommunicator.run(size: 4) { world -> [Int] in
            let half = try world.split(color: world.rank % 2, key: world.rank)
            let sum = try half.allreduceSum(Int64(world.rank + 1))
            return [half.rank, half.size, Int(sum)]
        }
        XCTAssertEqual(results, [[0, 2, 4], [0, 2, 6], [1, 2, 4], [1, 2, 6]])
    }

    func testSplitOrdersByKey() throws {
        let results = try LocalCommunicator.run(size: 3) { world in
            try world.split(color: 0, key: -world.rank).rank
        }
        XCTAssertEqual(results, [2, 1, 0])
    }

    func testBroadcastAndGather() throws {
        let results = try LocalCommunicator.run(size: 3) { comm -> [String] in
            var values = comm.rank == 1 ? [1.5, 2.5] : [0.0, 0.0]
            try comm.broadcast(&values, root: 1)
            let text = try comm.broadcast(comm.rank == 2 ? "half B" : "", root: 2)
            let gathered = try comm.gather(Array("r\(comm.rank)".utf8), root: 0)
            try comm.barrier()
            return ["\(values)", text, gathered.map { $0.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ",") } ?? "nil"]
        }
        XCTAssertEqual(results[0], ["[1.5, 2.5]", "half B", "r0,r1,r2"])
        XCTAssertEqual(results[2], ["[1.5, 2.5]", "half B", "nil"])
    }

    /// Typed gather: each rank's values (of its own count) arrive on the root as values, in rank order.
    func testTypedGatherKeepsValuesAndCounts() throws {
        let results = try LocalCommunicator.run(size: 3) { comm -> [[Double]]? in
            try comm.gather((0..<comm.rank).map { Double(comm.rank) + 0.25 * Double($0) }, root: 1)
        }
        XCTAssertEqual(results[1], [[], [1.0], [2.0, 2.25]])
        XCTAssertNil(results[0])
        XCTAssertNil(results[2])
    }

    /// Reduce-scatter leaves each rank the sum of its own segment; allgather gives every rank every segment (one
    /// rank owning none).
    func testReduceScatterAndAllgatherOverUnevenSegments() throws {
        let counts = [2, 0, 3]
        let results = try LocalCommunicator.run(size: 3) { comm -> ([Int64], [Float]) in
            let mine = counts[..<comm.rank].reduce(0, +)..<(counts[...comm.rank].reduce(0, +))
            var sums = (0..<5).map { Int64($0 * (comm.rank + 1)) }
            try sums.withUnsafeMutableBufferPointer { try comm.reduceScatterSum($0, counts: counts) }
            var gathered = (0..<5).map { mine.contains($0) ? Float(10 * comm.rank + $0) : -1 }
            try gathered.withUnsafeMutableBufferPointer { try comm.allgather($0, counts: counts) }
            return (Array(sums[mine]), gathered)
        }
        XCTAssertEqual(results.flatMap(\.0), (0..<5).map { Int64($0 * 6) })
        for (_, gathered) in results { XCTAssertEqual(gathered, [0, 1, 22, 23, 24]) }
    }

    /// The distributed transpose of a 5 × 4 matrix of 2-float tuples over 3 ranks (FFTW-MPI's blocks: rows 2, 2, 1;
    /// columns of the transpose 2, 2, 0): each rank receives its block of the transpose's rows.
    func testTransposeGivesEachRankItsBlockOfTheTranspose() throws {
        let rows = 5, columns = 4, h = 2, rowBlock = 2, columnBlock = 2
        let value: @Sendable (Int, Int, Int) -> Float = { r, c, k in Float(100 * r + 10 * c + k) }
        let results = try LocalCommunicator.run(size: 3) { comm -> [Float] in
            let mine = min(comm.rank * rowBlock, rows)..<min((comm.rank + 1) * rowBlock, rows)
            var input = [Float](repeating: -1, count: max(rowBlock * columns, columnBlock * rows) * h)
            for r in mine { for c in 0..<columns { for k in 0..<h { input[((r - mine.lowerBound) * columns + c) * h + k] = value(r, c, k) } } }
            var output = [Float](repeating: -1, count: input.count)
            try input.withUnsafeMutableBufferPointer { i in
                try output.withUnsafeMutableBufferPointer { o in
                    try comm.transpose(i.baseAddress!, into: o.baseAddress!, rows: rows, columns: columns, tupleLength: h,
                                       rowBlock: rowBlock, columnBlock: columnBlock)
                }
            }
            let received = min(comm.rank * columnBlock, columns)..<min((comm.rank + 1) * columnBlock, columns)
            return Array(output[..<(received.count * rows * h)])
        }
        for (rank, output) in results.enumerated() {
            let received = min(rank * columnBlock, columns)..<min((rank + 1) * columnBlock, columns)
            let expected = received.flatMap { c in (0..<rows).flatMap { r in (0..<h).map { value(r, c, $0) } } }
            XCTAssertEqual(output, expected, "rank \(rank)")
        }
    }

    func testReductionIsBitIdenticalOnEveryRank() throws {
        let results = try LocalCommunicator.run(size: 4) { comm -> [Float] in
            var values = (0..<64).map { Float(sin(Double($0 * (comm.rank + 3)))) * 1e-3 + 1e3 }
            try comm.allreduceSum(&values)
            return values
        }
        for r in 1..<4 { XCTAssertEqual(results[r], results[0]) }
    }

    func testAFailingRankFailsTheRunInsteadOfHanging() {
        XCTAssertThrowsError(try LocalCommunicator.run(size: 3) { comm in
            if comm.rank == 1 { throw DuetError("rank 1 could not read its particles") }
            try comm.barrier()
        }) { error in
            XCTAssertEqual((error as? DuetError)?.message, "rank 1 could not read its particles")
        }
    }
}

/// The reductions the SGD relies on for rank-count-independent results.
final class ExactReductionTests: XCTestCase {
    func testAllreduceMaxAndDisjointRowsAreTheSameAtEveryRankCount() throws {
        // Row i of 12 belongs to rank i mod size; values chosen so that a float sum in another order would differ.
        let rows: [[Double]] = (0..<12).map { i in
            let big = 1e16 * Double(i % 3)
            return [big + 1, 0.1 * Double(i), -big]
        }
        var expected: [Double]?
        for size in 1...4 {
            let results = try LocalCommunicator.run(size: size) { comm -> [Double] in
                var mine = [Double](repeating: 0, count: 36)
                for i in 0..<12 where i % comm.size == comm.rank { mine.replaceSubrange((3 * i)..<(3 * i + 3), with: rows[i]) }
                let total = try comm.sumDisjointRows(mine, rowLength: 3)
                return total + [try comm.allreduceMax(Double(comm.rank) - 0.5)]
            }
            for result in results {
                XCTAssertEqual(result.last, Double(size) - 1.5, "max at size \(size)")
                if let expected { XCTAssertEqual(Array(result.dropLast()), expected, "sum at size \(size)") }
                expected = Array(result.dropLast())
            }
        }
        var serial = [0.0, 0.0, 0.0]
        for row in rows { for j in 0..<3 { serial[j] += row[j] } }
        XCTAssertEqual(expected, serial, "the row-order sum of one process")
    }
}
