import DuetComm
import DuetCore
import DuetFormats
import DuetKernels
import Foundation

/// The end of `duet refine` (collective over the world). Each half's final map is an unfiltered direct
/// reconstruction of its seen particles at their final poses (each rank back-projects its shard; sums are reduced
/// in the half's communicator). World rank 0 receives half B's map and poses and writes `half_map_A.mrc`,
/// `half_map_B.mrc`, the gold-standard report (`GoldStandardReport`: fsc.txt/.star/.svg, mask.mrc, slices.png),
/// `particles.star`/`.cs` (seen particles with poses and split, every input column kept),
/// `unused_particles.star`/`.cs` (never seen, or beyond `--particle-limit`) and `log.txt`; then every rank writes
/// its own rows of `duet.h5`. The half maps weight each image by its contrast scale α (`HalfSetBackProjection`):
/// `particles.star` carries α in `rlnCtfScalefactor` (RELION's per-particle amplitude, times the input's) so that
/// `relion_reconstruct` and `duet reconstruct` rebuild the same maps; `particles.cs` keeps the CTF's own scale and
/// carries α as `alignments3D/alpha`, as CryoSPARC does.
enum RefineOutputs {
    /// `input` is the particle file as read; `set` its first `--particle-limit` particles, each in its half-set.
    static func write(halves: ServedHalves, input: ParticleSet, set: ParticleSet, box: Int, pixelSize_A: Double,
                      configuration c: RefineConfiguration, ranks: HalfSetRanks, world: Communicator,
                      log: RefineLog, times: StageTimes) throws -> String? {
        let directory = c.outputDirectory
        let grid = FourierGrid(box: box)
        // Each half's map and assignments, on that half's rank 0.
        var maps = [HalfSet: [Float]](), assignments = [HalfSet: [ParticleAssignment]]()
        for run in halves {
            try times.measure(.backProjection) {
                let posed = run.posedShard()
                let backProjector = BackProjector(grid: grid)
                try HalfSetBackProjection(box: box, pixelSize_A: pixelSize_A, applyCTF: true,
                                          symmetry: run.engine.symmetry)
                    .accumulate(posed.map(\.particle), imageScales: posed.map(\.scale), from: set, into: backProjector)
                try ranks.communicator.allreduceSum(backProjector.numerator.buffer)
                try ranks.communicator.allreduceSum(backProjector.weight.buffer)
                if ranks.communicator.isRoot { maps[run.half] = backProjector.reconstruct() }
            }
            if let all = try run.engine.gatherAssignments() { assignments[run.half] = all }
        }
        // Half B's map and poses travel from half B's rank 0 to world rank 0.
        let sendsB = world.rank == ranks.halfBRoot
        let gatheredMaps = try world.gather(sendsB ? maps[.b] ?? [] : [], root: 0)
        let gatheredRecords = try world.gather(sendsB ? assignments[.b]?.flatMap(\.record) ?? [] : [], root: 0)

        var halfA = [Float](), halfB = [Float](), summary: String?
        var fsc: FSCCurve?
        var scoringParameters = [Double](repeating: 0, count: 4)
        try times.measure(.io) {
            // World rank 0 is rank 0 of half A (`HalfSetRanks`), so it holds half A's map and assignments.
            if world.isRoot, let gatheredMaps, let gatheredRecords, let mapA = maps[.a], let assignmentsA = assignments[.a] {
                halfA = mapA
                halfB = gatheredMaps[ranks.halfBRoot]
                let records = gatheredRecords[ranks.halfBRoot]
                let n = ParticleAssignment.recordLength
                let assignmentsB = (0..<(records.count / n)).map { ParticleAssignment(record: records[($0 * n)..<(($0 + 1) * n)]) }
                for (name, map) in [("half_map_A", halfA), ("half_map_B", halfB)] {
                    try MRCWriter.writeVolume(nx: box, ny: box, nz: box, data: map, pixelSize_A: Float(pixelSize_A),
                                              to: "\(directory)/\(name).mrc")
                }
                let report = try GoldStandardReport.write(halfA: halfA, halfB: halfB, box: box, pixelSize_A: pixelSize_A,
                                                          to: directory, options: .init(seed: c.sgd.seed))
                fsc = FourierShellCorrelation.curve(halfA, halfB, box: box, pixelSize_A: pixelSize_A)
                var all = [ParticleAssignment](repeating: .unseen, count: set.particles.count)
                for (half, halfAssignments) in [(HalfSet.a, assignmentsA), (.b, assignmentsB)] {
                    let inputIndices = set.particles.indices.filter { set.particles[$0].halfSet == half }
                    for (i, assignment) in zip(inputIndices, halfAssignments) { all[i] = assignment }
                }
                var whole = input
                whole.particles.replaceSubrange(set.particles.indices, with: set.particles)
                let scoring = all.qualityScoring
                scoringParameters = scoring.parameters
                let (used, unused) = try whole.splitByAssignment(all, scoring: scoring)
                try ParticleFile.write(used.withImageScalesInCTF(), to: directory + "/particles.star")
                try ParticleFile.write(used, to: directory + "/particles.cs")
                try ParticleFile.write(unused, to: directory + "/unused_particles.star")
                try ParticleFile.write(unused, to: directory + "/unused_particles.cs")
                try AtomicFile.write(log.lines.joined(separator: "\n") + "\n", to: directory + "/log.txt")
                let symmetry = halves.symmetry
                summary = "gold-standard refinement of \(used.particles.count) particles (\(unused.particles.count) unused) "
                    + "on \(world.size) rank(s), symmetry \(symmetry):\n\(report.description)\noutputs in \(directory)/"
            }
            try world.broadcast(&scoringParameters, root: 0)
            try writeHDF5(halves: halves, ranks: ranks, world: world, box: box, pixelSize_A: pixelSize_A,
                          halfA: halfA, halfB: halfB, fsc: fsc, log: log,
                          scoring: QualityScoring(parameters: scoringParameters), path: directory + "/duet.h5")
        }
        return summary
    }

    /// `duet.h5` (layout in the README): the particle table (each rank its shard's rows), both half maps, the
    /// unmasked gold-standard FSC and the per-iteration history (from world rank 0); the particles' quality as
    /// `scoring` (the run's, the same on every rank) gives it.
    private static func writeHDF5(halves: ServedHalves, ranks: HalfSetRanks, world: Communicator, box: Int,
                                  pixelSize_A: Double, halfA: [Float], halfB: [Float], fsc: FSCCurve?,
                                  log: RefineLog, scoring: QualityScoring, path: String) throws {
        var rows = [Particle](), inputIndex = [Int64](), ess = [Double](), lastIteration = [Int64]()
        var scale = [Double](), correlation = [Double](), hotspot = [Double](), quality = [Double]()
        for run in halves {
            for (slot, assignment) in run.engine.assignments.enumerated() {
                let i = run.engine.shard.index(ofSlot: slot)
                var particle = run.particles.particles[i]
                particle.pose = assignment.pose
                rows.append(particle)
                inputIndex.append(Int64(run.inputIndices[i]))
                let statistics = assignment.statistics(scoredBy: scoring)
                ess.append(statistics?.effectiveSampleSize ?? .nan)
                lastIteration.append(Int64(statistics?.lastIteration ?? 0))
                scale.append(statistics?.scale ?? .nan)
                correlation.append(statistics?.correlation ?? .nan)
                hotspot.append(statistics?.residualHotspot ?? .nan)
                quality.append(statistics?.quality ?? .nan)
            }
        }
        let root = world.isRoot
        let h5 = try ParallelHDF5Writer(path: path, communicator: world)
        try h5.writeParticles(rows)
        try h5.writeColumn("particles/inputIndex", .int64(inputIndex))
        try h5.writeColumn("particles/effectiveSampleSize", .double(ess))
        try h5.writeColumn("particles/lastIteration", .int64(lastIteration))
        try h5.writeColumn("particles/scale", .double(scale))
        try h5.writeColumn("particles/correlation", .double(correlation))
        try h5.writeColumn("particles/residualHotspot", .double(hotspot))
        try h5.writeColumn("particles/quality", .double(quality))
        try h5.writeVolume("maps/half_map_A", nx: box, ny: box, nz: box, data: halfA, pixelSize_A: pixelSize_A)
        try h5.writeVolume("maps/half_map_B", nx: box, ny: box, nz: box, data: halfB, pixelSize_A: pixelSize_A)
        let curve = root ? fsc : nil
        try h5.writeColumn("fsc/resolution_A", .double(curve.map { c in c.values.indices.map { c.resolution_A(shell: Double($0)) } } ?? []))
        try h5.writeColumn("fsc/unmasked", .double(curve?.values ?? []))
        let entries = root ? log.entries : []
        try h5.writeColumn("history/iteration", .int64(entries.map { Int64($0.iteration) }))
        try h5.writeColumn("history/resolution_A", .double(entries.map(\.resolution_A)))
        try h5.writeColumn("history/meanESS_A", .double(entries.map(\.essA)))
        try h5.writeColumn("history/meanESS_B", .double(entries.map(\.essB)))
        try h5.writeColumn("history/halfMapResolution_A", .double(entries.map(\.halfMapResolution_A)))
        for stage in StageTimes.Stage.allCases {
            try h5.writeColumn("history/seconds_\(stage.name)", .double(entries.map { $0.stageSeconds[stage.rawValue] }))
        }
        try h5.writeAttribute("program", "duet refine")
        try h5.writeAttribute("symmetry", halves.symmetry.name)
        try h5.close()
    }
}

extension ParticleSet {
    /// The same particles with each CTF's scale multiplied by the image's contrast scale from its pose statistics
    /// (RELION's `rlnCtfScalefactor` is that per-particle amplitude).
    func withImageScalesInCTF() -> ParticleSet {
        var copy = self
        for i in copy.particles.indices {
            guard let scale = copy.particles[i].poseStatistics?.scale, copy.particles[i].ctf != nil else { continue }
            copy.particles[i].ctf!.scale *= scale
        }
        return copy
    }
}
