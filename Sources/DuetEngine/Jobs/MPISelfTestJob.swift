import DuetComm
import DuetCore

/// `duet mpi-selftest OUTPUT.h5`, run under `mpirun`: a check of the distributed machinery a refinement relies on.
/// The world splits into the refinement's two half-set communicators (`HalfSetRanks`, checked against the pure
/// `HalfSetPlan`; one rank serves both halves on the world), sums of every element type are allreduced inside each
/// half and over the world, uneven segments reduce-scattered and allgathered and a matrix transposed (FFTW-MPI), and
/// compared with their analytic values, and every rank writes its own rows of a particle
/// table (synthetic particles whose values follow from their row) to one HDF5 file while rank 0 writes a volume.
/// Rank `r` holds `rowsPerRank + r` rows so that the shards are uneven.
public enum MPISelfTestJob {
    public struct Configuration: Sendable {
        /// The HDF5 file to write.
        public var outputPath: String
        /// Rows of the particle table on rank 0 (rank `r` writes `rowsPerRank + r`).
        public var rowsPerRank = 3

        public init(outputPath: String) { self.outputPath = outputPath }
    }

    /// Runs the checks (collective over `world`); throws a `DuetError` on the first mismatch. Returns a one-line
    /// summary on world rank 0 and nil elsewhere.
    public static func run(_ configuration: Configuration, world: Communicator) throws -> String? {
        let outputPath = configuration.outputPath, rowsPerRank = configuration.rowsPerRank
        let plan = HalfSetPlan(worldSize: world.size)
        let ranks = try HalfSetRanks.split(world)
        for half in ranks.halves {
            let expected = plan.worldRanks(of: half)
            guard ranks.communicator.size == expected.count,
                  ranks.communicator.rank == world.rank - expected.lowerBound else {
                throw DuetError("rank \(world.rank): the half-set split gave rank \(ranks.communicator.rank) of "
                                + "\(ranks.communicator.size) for half \(half), the plan world ranks \(expected)")
            }
            try checkAllreduce(ranks.communicator, worldRanks: Array(expected), worldRank: world.rank,
                               label: "half \(half == .a ? "A" : "B")")
            try checkSegments(ranks.communicator, worldRanks: Array(expected), worldRank: world.rank,
                              label: "half \(half == .a ? "A" : "B")")
        }
        try checkAllreduce(world, worldRanks: Array(0..<world.size), worldRank: world.rank, label: "world")
        try checkSegments(world, worldRanks: Array(0..<world.size), worldRank: world.rank, label: "world")

        let rows = rowsPerRank + world.rank
        let firstRow = (0..<world.rank).reduce(0) { $0 + rowsPerRank + $1 }
        // Every rank takes part in the collective create; a failure (an unwritable path) is every rank's.
        let writer = try world.agreeing { try ParallelHDF5Writer(path: outputPath, communicator: world) }
        try writer.writeAttribute("creator", "duet mpi-selftest")
        try writer.writeColumn("particles/worldRank", .int32([Int32](repeating: Int32(world.rank), count: rows)))
        try writer.writeParticles((0..<rows).map { syntheticParticle(row: firstRow + $0, worldRank: world.rank) })
        let n = 6
        try writer.writeVolume("volumes/test", nx: n, ny: n + 1, nz: n + 2,
                               data: world.isRoot ? (0..<n * (n + 1) * (n + 2)).map(Float.init) : [],
                               pixelSize_A: 1.5)
        try writer.close()

        guard world.isRoot else { return nil }
        let totalRows = (0..<world.size).reduce(0) { $0 + rowsPerRank + $1 }
        let a = plan.worldRanks(of: .a), b = plan.worldRanks(of: .b)
        return "mpi-selftest passed: \(world.size) ranks, half A on world ranks \(a.lowerBound)–\(a.upperBound - 1), "
            + "half B on \(b.lowerBound)–\(b.upperBound - 1), \(totalRows) rows written to \(outputPath)"
    }

    /// A particle whose every value is a function of its global row, for the h5py oracle to check.
    private static func syntheticParticle(row: Int, worldRank: Int) -> Particle {
        let r = Double(row)
        let ctf = CTFParameters(defocusU_A: 10_000 + r, defocusV_A: 9_000 + r, defocusAngle_deg: r / 10, voltage_kV: 300,
                                sphericalAberration_mm: 2.7, amplitudeContrast: 0.1)
        let angles = RelionEulerAngles(rot_deg: r, tilt_deg: 10 + r / 2, psi_deg: -r)
        return Particle(image: ImageLocation(index: row, path: "rank\(worldRank).mrcs"), pixelSize_A: 1.5, boxSize: 64,
                        ctf: ctf, pose: Pose(rotation: Rotation(relion: angles), shiftX_A: r * 0.25, shiftY_A: -r * 0.25),
                        halfSet: row % 2 == 0 ? .a : .b)
    }

    /// Reduce-scatter and allgather over uneven segments (rank `r` of the communicator owns `5 + 3r` elements, the
    /// last rank none when there are several): each rank's segment of the sum, and every rank's segment after the
    /// gather, must equal their closed forms.
    private static func checkSegments(_ comm: Communicator, worldRanks: [Int], worldRank: Int, label: String) throws {
        let counts = (0..<comm.size).map { comm.size > 1 && $0 == comm.size - 1 ? 0 : 5 + 3 * $0 }
        let offsets = counts.indices.map { counts[..<$0].reduce(0, +) }
        let total = counts.reduce(0, +)
        var integers = (0..<total).map { Int64($0) * Int64(worldRank + 1) }
        try integers.withUnsafeMutableBufferPointer { try comm.reduceScatterSum($0, counts: counts) }
        let weightSum = Int64(worldRanks.reduce(0) { $0 + $1 + 1 })
        for i in offsets[comm.rank]..<(offsets[comm.rank] + counts[comm.rank]) where integers[i] != Int64(i) * weightSum {
            throw DuetError("\(label) reduce-scatter mismatch at element \(i) on world rank \(worldRank): "
                            + "\(integers[i]) ≠ \(Int64(i) * weightSum)")
        }
        var gathered = (0..<total).map { i -> SIMD2<Float> in
            offsets[comm.rank]..<(offsets[comm.rank] + counts[comm.rank]) ~= i ? [Float(worldRank), Float(i)] : [-1, -1]
        }
        try gathered.withUnsafeMutableBufferPointer { try comm.allgather($0, counts: counts) }
        for rank in 0..<comm.size {
            for i in offsets[rank]..<(offsets[rank] + counts[rank]) where gathered[i] != [Float(worldRanks[rank]), Float(i)] {
                throw DuetError("\(label) allgather mismatch at element \(i) on world rank \(worldRank): \(gathered[i])")
            }
        }
        try checkTranspose(comm, worldRank: worldRank, label: label)
    }

    /// FFTW-MPI's distributed transpose of a `(2·size − 1) × (size + 2)` matrix of 3-float tuples in blocks of 2 rows
    /// and 3 transposed rows (the last rank's block of rows short, from 4 ranks on some receiving none): every
    /// received value must equal its closed form.
    private static func checkTranspose(_ comm: Communicator, worldRank: Int, label: String) throws {
        let rows = 2 * comm.size - 1, columns = comm.size + 2, h = 3, rowBlock = 2, columnBlock = 3
        let value = { (r: Int, c: Int, k: Int) in Float(1000 * r + 10 * c + k) }
        let held = min(comm.rank * rowBlock, rows)..<min((comm.rank + 1) * rowBlock, rows)
        let received = min(comm.rank * columnBlock, columns)..<min((comm.rank + 1) * columnBlock, columns)
        let capacity = max(rowBlock * columns, columnBlock * rows) * h
        var input = [Float](repeating: -1, count: capacity), output = [Float](repeating: -1, count: capacity)
        for r in held { for c in 0..<columns { for k in 0..<h { input[((r - held.lowerBound) * columns + c) * h + k] = value(r, c, k) } } }
        try input.withUnsafeMutableBufferPointer { i in
            try output.withUnsafeMutableBufferPointer { o in
                try comm.transpose(i.baseAddress!, into: o.baseAddress!, rows: rows, columns: columns, tupleLength: h,
                                   rowBlock: rowBlock, columnBlock: columnBlock)
            }
        }
        for c in received {
            for r in 0..<rows {
                for k in 0..<h where output[((c - received.lowerBound) * rows + r) * h + k] != value(r, c, k) {
                    throw DuetError("\(label) transpose mismatch at (\(c), \(r), \(k)) on world rank \(worldRank)")
                }
            }
        }
    }

    /// Every rank contributes values derived from its world rank; the sum must equal the closed form.
    private static func checkAllreduce(_ comm: Communicator, worldRanks: [Int], worldRank: Int, label: String) throws {
        let count = 1000
        var floats = (0..<count).map { Float($0 % 17) * Float(worldRank + 1) }
        var doubles = (0..<count).map { Double($0) + Double(worldRank) * 1e-3 }
        var complexes = (0..<count).map { SIMD2<Float>(Float(worldRank), Float(-$0 % 5)) }
        var integers = (0..<count).map { Int64($0) * Int64(worldRank + 1) }
        try comm.allreduceSum(&floats)
        try comm.allreduceSum(&doubles)
        try comm.allreduceSum(&complexes)
        try comm.allreduceSum(&integers)
        let rankSum = Double(worldRanks.reduce(0, +))
        let weightSum = Double(worldRanks.reduce(0) { $0 + $1 + 1 })
        let n = Double(worldRanks.count)
        for i in 0..<count {
            let expected: [Double] = [Double(i % 17) * weightSum, Double(i) * n + rankSum * 1e-3,
                                      rankSum, Double(-i % 5) * n, Double(i) * weightSum]
            let actual: [Double] = [Double(floats[i]), doubles[i], Double(complexes[i].x), Double(complexes[i].y),
                                    Double(integers[i])]
            for (a, e) in zip(actual, expected) where abs(a - e) > 1e-9 * max(1, abs(e)) {
                throw DuetError("\(label) allreduce mismatch at element \(i) on world rank \(worldRank): \(a) ≠ \(e)")
            }
        }
    }
}
