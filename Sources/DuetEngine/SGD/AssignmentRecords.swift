import DuetComm
import DuetCore

extension ParticleAssignment {
    /// Doubles per record: seen flag, rotation matrix (9, row-major), shift x/y (Å), ESS, last iteration, scale,
    /// correlation, residual hotspot.
    static let recordLength = 17

    /// The assignment as a fixed-length record (for gathers and checkpoints).
    var record: [Double] {
        guard let pose else { return [Double](repeating: 0, count: Self.recordLength) }
        let r = pose.rotation
        return [1, r.row0.x, r.row0.y, r.row0.z, r.row1.x, r.row1.y, r.row1.z, r.row2.x, r.row2.y, r.row2.z,
                pose.shiftX_A, pose.shiftY_A, effectiveSampleSize, Double(lastIteration ?? -1), scale, correlation,
                residualHotspot]
    }

    /// The assignment a record describes; a record of a checkpoint written before the residual hotspot (one double
    /// shorter) gives hotspot 1 until the particle is searched again.
    init(record v: ArraySlice<Double>) {
        let v = Array(v)
        guard v[0] != 0 else { self = .unseen; return }
        let rotation = Rotation(row0: SIMD3(v[1], v[2], v[3]), row1: SIMD3(v[4], v[5], v[6]), row2: SIMD3(v[7], v[8], v[9]))
        self.init(pose: Pose(rotation: rotation, shiftX_A: v[10], shiftY_A: v[11]), effectiveSampleSize: v[12],
                  scale: v[14], correlation: v[15], residualHotspot: v.count > 16 ? v[16] : 1,
                  lastIteration: v[13] >= 0 ? Int(v[13]) : nil)
    }
}

extension AbinitEngine {
    /// Every particle's assignment in set order on rank 0 of the communicator, nil on the others (collective).
    func gatherAssignments() throws -> [ParticleAssignment]? {
        guard let all = try communicator.gather(assignments.flatMap(\.record), root: 0) else { return nil }
        var result = [ParticleAssignment](repeating: .unseen, count: shard.particleCount)
        let n = ParticleAssignment.recordLength
        for (rank, records) in all.enumerated() {
            for slot in 0..<(records.count / n) {
                result[slot * communicator.size + rank] = ParticleAssignment(record: records[(slot * n)..<((slot + 1) * n)])
            }
        }
        return result
    }
}
