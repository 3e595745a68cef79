import DuetCore
import Foundation

extension StarParticles {
    /// The STAR document for `set`. A set read from STAR keeps its document, with every column, and gets the
    /// columns Duet owns updated (image names, poses, split, the CTF scale factor, Duet's statistics); a value that
    /// did not change keeps its original text.
    /// Any other set becomes a RELION 3.1 document with `data_optics` and `data_particles`.
    public static func document(for set: ParticleSet) throws -> StarDocument {
        guard case .star(var document, let blockName) = set.source,
              let blockIndex = document.blockIndex(named: blockName),
              var table = document.blocks[blockIndex].table, table.rowCount == set.particles.count
        else { return try freshDocument(for: set) }
        let particles = set.particles
        let path = document.sourceName

        try table.setColumn("rlnImageName", to: try particles.enumerated().map { r, particle in
            let text = table.value(row: r, column: "rlnImageName")
            let unchanged = try text.map { try imageLocation($0, path: path, row: r) } == particle.image
            return unchanged ? text! : imageName(particle.image)
        })
        if particles.contains(where: { $0.pose != nil }) {
            let poses = particles.map { $0.pose ?? Pose(rotation: .identity, shiftX_A: 0, shiftY_A: 0) }
            let angleColumns = ["rlnAngleRot", "rlnAngleTilt", "rlnAnglePsi"]
            var angleTexts = angleColumns.map { _ in [String]() }
            for (r, pose) in poses.enumerated() {
                let before = angleColumns.map { table.value(row: r, column: $0) }
                let beforeDegrees = before.map { $0.flatMap(Double.init) ?? 0 }
                let beforeRotation = Rotation(relion: RelionEulerAngles(rot_deg: beforeDegrees[0], tilt_deg: beforeDegrees[1],
                                                                        psi_deg: beforeDegrees[2]))
                if before.allSatisfy({ $0 != nil }) && beforeRotation.angularDistance_rad(to: pose.rotation) < 1e-12 {
                    for c in 0..<3 { angleTexts[c].append(before[c]!) }
                } else {
                    let angles = pose.rotation.relionEulerAngles
                    for (c, value) in [angles.rot_deg, angles.tilt_deg, angles.psi_deg].enumerated() {
                        angleTexts[c].append(number(value))
                    }
                }
            }
            for (c, name) in angleColumns.enumerated() { try table.setColumn(name, to: angleTexts[c]) }
            for (axis, suffix) in [(\Pose.shiftX_A, "X"), (\Pose.shiftY_A, "Y")] {
                try table.setColumn("rlnOrigin\(suffix)Angst", to: poses.enumerated().map { r, pose in
                    let text = table.value(row: r, column: "rlnOrigin\(suffix)Angst")
                    return text.flatMap(Double.init) == pose[keyPath: axis] ? text! : number(pose[keyPath: axis])
                })
                // A RELION 3.0 file's pixel shifts stay consistent with the Ångström ones.
                guard table.columnIndex("rlnOrigin\(suffix)") != nil else { continue }
                try table.setColumn("rlnOrigin\(suffix)", to: try poses.enumerated().map { r, pose in
                    guard let pixel_A = particles[r].pixelSize_A else {
                        throw DuetError("particle \(r + 1): cannot update rlnOrigin\(suffix) in pixels: pixel size unknown")
                    }
                    let text = table.value(row: r, column: "rlnOrigin\(suffix)")
                    let unchanged = text.flatMap(Double.init).map { abs($0 * pixel_A - pose[keyPath: axis]) < 1e-9 } ?? false
                    return unchanged ? text! : number(pose[keyPath: axis] / pixel_A)
                })
            }
        }
        let scales = particles.map { $0.ctf?.scale ?? 1 }
        let textScales = (0..<particles.count).map { table.value(row: $0, column: "rlnCtfScalefactor") }
        if zip(scales, textScales).contains(where: { $0 != ($1.flatMap(Double.init) ?? 1) }) {
            try table.setColumn("rlnCtfScalefactor", to: zip(scales, textScales).map { scale, text in
                text.flatMap(Double.init) == scale ? text! : number(scale)
            })
        }
        if particles.contains(where: { $0.halfSet != nil }) {
            try table.setColumn("rlnRandomSubset", to: try particles.enumerated().map { r, particle in
                guard let half = particle.halfSet else { throw DuetError("particle \(r + 1) has no half-set while others do") }
                return String(half.relionSubset)
            })
        }
        try setPoseStatisticsColumns(&table, particles)
        document.blocks[blockIndex].table = table
        return document
    }

    /// A RELION 3.1 document: one optics group per distinct (pixel size, box, voltage, Cs, amplitude contrast).
    private static func freshDocument(for set: ParticleSet) throws -> StarDocument {
        struct OpticsKey: Hashable {
            var pixel: Double?, box: Int?, voltage: Double?, cs: Double?, q0: Double?
        }
        var groupOfKey = [OpticsKey: Int]()
        var keys = [OpticsKey]()
        var groupOfParticle = [Int]()
        for particle in set.particles {
            let key = OpticsKey(pixel: particle.pixelSize_A, box: particle.boxSize, voltage: particle.ctf?.voltage_kV,
                                cs: particle.ctf?.sphericalAberration_mm, q0: particle.ctf?.amplitudeContrast)
            if groupOfKey[key] == nil {
                keys.append(key)
                groupOfKey[key] = keys.count
            }
            groupOfParticle.append(groupOfKey[key]!)
        }
        var optics = StarTable(columnNames: [])
        try optics.setColumn("rlnOpticsGroup", to: keys.indices.map { String($0 + 1) })
        try optics.setColumn("rlnOpticsGroupName", to: keys.indices.map { "opticsGroup\($0 + 1)" })
        if keys.allSatisfy({ $0.pixel != nil }) { try optics.setColumn("rlnImagePixelSize", to: keys.map { number($0.pixel!) }) }
        if keys.allSatisfy({ $0.box != nil }) { try optics.setColumn("rlnImageSize", to: keys.map { String($0.box!) }) }
        try optics.setColumn("rlnImageDimensionality", to: keys.map { _ in "2" })
        if keys.allSatisfy({ $0.voltage != nil }) {
            try optics.setColumn("rlnVoltage", to: keys.map { number($0.voltage!) })
            try optics.setColumn("rlnSphericalAberration", to: keys.map { number($0.cs!) })
            try optics.setColumn("rlnAmplitudeContrast", to: keys.map { number($0.q0!) })
        }

        let particles = set.particles
        var table = StarTable(columnNames: [])
        try table.setColumn("rlnImageName", to: particles.map { imageName($0.image) })
        try table.setColumn("rlnOpticsGroup", to: groupOfParticle.map(String.init))
        if particles.allSatisfy({ $0.ctf != nil }) && !particles.isEmpty {
            try table.setColumn("rlnDefocusU", to: particles.map { number($0.ctf!.defocusU_A) })
            try table.setColumn("rlnDefocusV", to: particles.map { number($0.ctf!.defocusV_A) })
            try table.setColumn("rlnDefocusAngle", to: particles.map { number($0.ctf!.defocusAngle_deg) })
            try table.setColumn("rlnPhaseShift", to: particles.map { number($0.ctf!.phaseShift_deg) })
            try table.setColumn("rlnCtfBfactor", to: particles.map { number($0.ctf!.bFactor_A2) })
            try table.setColumn("rlnCtfScalefactor", to: particles.map { number($0.ctf!.scale) })
        }
        if particles.contains(where: { $0.pose != nil }) {
            let poses = particles.map { $0.pose ?? Pose(rotation: .identity, shiftX_A: 0, shiftY_A: 0) }
            let angles = poses.map(\.rotation.relionEulerAngles)
            try table.setColumn("rlnAngleRot", to: angles.map { number($0.rot_deg) })
            try table.setColumn("rlnAngleTilt", to: angles.map { number($0.tilt_deg) })
            try table.setColumn("rlnAnglePsi", to: angles.map { number($0.psi_deg) })
            try table.setColumn("rlnOriginXAngst", to: poses.map { number($0.shiftX_A) })
            try table.setColumn("rlnOriginYAngst", to: poses.map { number($0.shiftY_A) })
        }
        if particles.contains(where: { $0.halfSet != nil }) {
            try table.setColumn("rlnRandomSubset", to: particles.map { String(($0.halfSet ?? .a).relionSubset) })
        }
        try setPoseStatisticsColumns(&table, particles)
        return StarDocument(blocks: [StarBlock(name: "optics", table: optics), StarBlock(name: "particles", table: table)])
    }

    /// Duet's own columns (RELION keeps unknown labels, with a warning): `rlnDuetPoseESS`, the 1-based
    /// `rlnDuetLastIteration`, `rlnDuetImageScale`, `rlnDuetCorrelation`, `rlnDuetResidualHotspot` and, once scored,
    /// `rlnDuetQuality`, when every particle has pose statistics (`PoseStatistics`).
    private static func setPoseStatisticsColumns(_ table: inout StarTable, _ particles: [Particle]) throws {
        let statistics = particles.compactMap(\.poseStatistics)
        guard !particles.isEmpty, statistics.count == particles.count else { return }
        try table.setColumn("rlnDuetPoseESS", to: statistics.map { String(format: "%.3f", $0.effectiveSampleSize) })
        try table.setColumn("rlnDuetLastIteration", to: statistics.map { String($0.lastIteration) })
        try table.setColumn("rlnDuetImageScale", to: statistics.map { String(format: "%.4f", $0.scale) })
        try table.setColumn("rlnDuetCorrelation", to: statistics.map { String(format: "%.5f", $0.correlation) })
        try table.setColumn("rlnDuetResidualHotspot", to: statistics.map { String(format: "%.4f", $0.residualHotspot) })
        if statistics.allSatisfy({ $0.quality != nil }) {
            try table.setColumn("rlnDuetQuality", to: statistics.map { String(format: "%.4f", $0.quality!) })
        }
    }

    /// RELION's image name: 1-based index, zero-padded to 6 digits, `@`, path; the path alone for a whole file.
    static func imageName(_ location: ImageLocation) -> String {
        guard !location.isWholeFile else { return location.path }
        let index = String(location.index + 1)
        return String(repeating: "0", count: max(0, 6 - index.count)) + index + "@" + location.path
    }

    /// Shortest text that reads back as the same value: at single precision for values that came from
    /// single-precision fields (e.g. `.cs` files), so 2.7f is written `2.7`, not `2.700000047683716`.
    static func number(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e15 { return String(format: "%.1f", value) }
        let single = Float(value)
        return Double(single) == value ? "\(single)" : "\(value)"
    }
}
