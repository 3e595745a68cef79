import DuetComm
import DuetCore

/// A check of the distributed machinery a refinement relies on, run by `duet mpi-selftest` under `mpirun`: the
/// world splits into two half-set communicators (even world ranks → half A, odd → half B; one rank forms half A
/// alone), sums of every element type are allreduced inside each half and over the world and compared with their
/// analytic values, and every rank writes its own rows of a particle table (synthetic particles whose values follow
/// from their row) to one HDF5 file while rank 0 writes a volume. Rank `r` holds `rowsPerRank + r` rows so that the shards are uneven.
public enum MPISelfTest {
    /// Runs the checks (collective over `world`); throws a `DuetError` on the first mismatch. Returns a one-line
    /// summary on rank 0 and nil elsewhere.
    public static func run(world: Communicator, outputPath: String, rowsPerRank: Int) throws -> String? {
        let color = world.rank % 2
        let half = try world.split(color: color, key: world.rank)
        let halfWorldRanks = (0..<world.size).filter { $0 % 2 == color }
        guard half.size == halfWorldRanks.count, half.rank == halfWorldRanks.firstIndex(of: world.rank) else {
            throw DuetError("rank \(world.rank): split gave rank \(half.rank) of \(half.size)")
        }

        try checkAllreduce(half, worldRanks: halfWorldRanks, worldRank: world.rank, label: "half \(color == 0 ? "A" : "B")")
        try checkAllreduce(world, worldRanks: Array(0..<world.size), worldRank: world.rank, label: "world")

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
        return "mpi-selftest passed: \(world.size) ranks, halves of \(half.size) and \(world.size - halfWorldRanks.count) ranks, "
            + "\(totalRows) rows written to \(outputPath)"
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
