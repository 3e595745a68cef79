import DuetCore
import Foundation

/// Maps CryoSPARC `.cs` particle files (NumPy structured arrays) to and from `ParticleSet`, with CryoSPARC's field
/// names: `blob/path` (relative to the CryoSPARC project; a leading `>` is dropped), `blob/idx` (0-based),
/// `blob/shape` (ny, nx), `blob/psize_A`, `ctf/*` (defocus in Å, angles in radians), `alignments3D/pose`
/// (axis-angle, radians; its matrix is the transpose of RELION's), `alignments3D/shift` (pixels, same sign as
/// RELION's `rlnOriginX/Y`), `alignments3D/split` (0 = half A), `blob/sign` (the factor that brings the image to
/// RELION's contrast, protein bright: −1 for CryoSPARC's own extractions, whose images keep the micrograph's dark
/// protein, as the EMPIAR-10076 particles of the fixtures show; `Particle.imageSign`); written only:
/// `alignments3D/pose_ess` and Duet's `duet/last_iteration` (1-based), `alignments3D/alpha` (per-image contrast
/// scale), `duet/correlation`, `duet/residual_hotspot` and `duet/quality` (`PoseStatistics`).
///
/// Writing keeps every field of a `.cs` input and updates the ones Duet owns; other inputs get the standard fields
/// of a CryoSPARC particle export.
public enum CryosparcParticles {
    public static func read(_ path: String, pixelSize_A override: Double? = nil) throws -> ParticleSet {
        let array = try NPYFile.read(path: path)
        let rows = array.count
        let paths = try array.strings("blob/path")
        let indices = try array.ints("blob/idx")
        /// A field's values, nil when absent; a NaN or infinity (no field Duet reads may hold one) is refused.
        func optional(_ name: String) throws -> [Double]? {
            guard array.contains(name) else { return nil }
            let values = try array.doubles(name)
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                let perRow = max(1, values.count / max(1, rows))
                throw DuetError("\(path): particle \(bad / perRow + 1): \(name) is \(values[bad])")
            }
            return values
        }
        let blobPixel = try optional("blob/psize_A"), alignmentPixel = try optional("alignments3D/psize_A")
        let shape = try optional("blob/shape")
        let defocus1 = try optional("ctf/df1_A"), defocus2 = try optional("ctf/df2_A")
        let defocusAngle = try optional("ctf/df_angle_rad"), phaseShift = try optional("ctf/phase_shift_rad")
        let voltage = try optional("ctf/accel_kv"), cs = try optional("ctf/cs_mm"), q0 = try optional("ctf/amp_contrast")
        let bFactor = try optional("ctf/bfactor"), scale = try optional("ctf/scale")
        let poses = try optional("alignments3D/pose"), shifts = try optional("alignments3D/shift")
        let signs = try optional("blob/sign")
        let splits = array.contains("alignments3D/split") ? try array.ints("alignments3D/split") : nil
        let groups = array.contains("ctf/exp_group_id") ? try array.ints("ctf/exp_group_id") : nil
        let groupNumbers = Dictionary(uniqueKeysWithValues: Array(Set(groups ?? [])).sorted().enumerated().map { ($1, $0 + 1) })

        var particles = [Particle]()
        particles.reserveCapacity(rows)
        for r in 0..<rows {
            func fail(_ message: String) -> DuetError { DuetError("\(path): particle \(r + 1): \(message)") }
            if let blobPixel, !(blobPixel[r] > 0) { throw fail("blob/psize_A must be > 0, not \(blobPixel[r])") }
            let blobPixel_A = blobPixel?[r]
            let pixel_A = override ?? blobPixel_A ?? alignmentPixel.flatMap { $0[r] > 0 ? $0[r] : nil }
            var ctf: CTFParameters?
            if let defocus1 {
                guard let voltage, let cs, let q0 else { throw fail("ctf/accel_kv, ctf/cs_mm or ctf/amp_contrast missing") }
                ctf = CTFParameters(defocusU_A: defocus1[r], defocusV_A: defocus2?[r] ?? defocus1[r],
                                    defocusAngle_deg: (defocusAngle?[r] ?? 0) * 180 / .pi, voltage_kV: voltage[r],
                                    sphericalAberration_mm: cs[r], amplitudeContrast: q0[r],
                                    phaseShift_deg: (phaseShift?[r] ?? 0) * 180 / .pi, bFactor_A2: bFactor?[r] ?? 0,
                                    scale: scale?[r] ?? 1)
            }
            var pose: Pose?
            if let poses {
                var shiftX_A = 0.0, shiftY_A = 0.0
                if let shifts {
                    guard let shiftPixel_A = override ?? alignmentPixel.flatMap({ $0[r] > 0 ? $0[r] : nil }) ?? pixel_A else {
                        throw fail("alignments3D/shift is in pixels but the pixel size is unknown: pass --pixel-size")
                    }
                    shiftX_A = shifts[2 * r] * shiftPixel_A
                    shiftY_A = shifts[2 * r + 1] * shiftPixel_A
                }
                let vector = SIMD3(poses[3 * r], poses[3 * r + 1], poses[3 * r + 2])
                pose = Pose(rotation: Rotation(cryosparcPose: vector), shiftX_A: shiftX_A, shiftY_A: shiftY_A)
            }
            var half: HalfSet?
            if let splits {
                guard let h = HalfSet(cryosparcSplit: splits[r]) else {
                    throw fail("alignments3D/split must be 0 or 1, not \(splits[r])")
                }
                half = h
            }
            var imagePath = paths[r]
            if imagePath.hasPrefix(">") { imagePath.removeFirst() }
            let box = shape.map { Int($0[2 * r]) }
            var particle = Particle(image: ImageLocation(index: indices[r], path: imagePath), pixelSize_A: pixel_A,
                                    boxSize: box.flatMap { $0 > 0 ? $0 : nil },
                                    opticsGroup: groups.map { groupNumbers[$0[r]]! } ?? 1,
                                    ctf: ctf, pose: pose, halfSet: half)
            if let signs {
                guard signs[r] == 1 || signs[r] == -1 else { throw fail("blob/sign must be 1 or -1, not \(signs[r])") }
                particle.imageSign = Float(signs[r])
            }
            particles.append(particle)
        }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return ParticleSet(particles: particles, opticsGroups: [], baseDirectory: directory, source: .cryosparc(array))
    }

    /// The `.cs` array for `set`: the input's array with Duet's fields updated, or a fresh CryoSPARC export.
    public static func array(for set: ParticleSet) throws -> NPYStructuredArray {
        let particles = set.particles
        var array: NPYStructuredArray
        if case .cryosparc(let original) = set.source, original.count == particles.count {
            array = original
        } else {
            array = try NPYStructuredArray(fields: [NPYField("uid", .uint64)], count: particles.count, source: "particles.cs")
            // SplitMix64 of the row number: distinct, reproducible 64-bit ids like CryoSPARC's.
            try array.setUInt64s("uid", to: particles.indices.map { row in
                var state = UInt64(row) &+ 0x4475_6574
                return SeededGenerator.splitMix64(&state)
            })
        }

        let longest = particles.map { $0.image.path.utf8.count }.max() ?? 1
        try ensureField(&array, "blob/path", .bytes(max(1, longest)), minimumStringLength: longest)
        try array.setStrings("blob/path", to: particles.map(\.image.path))
        try ensureField(&array, "blob/idx", .uint32)
        try array.setInts("blob/idx", to: particles.map(\.image.index))
        if !particles.isEmpty {
            try ensureField(&array, "blob/shape", .uint32, shape: [2])
            try array.setInts("blob/shape", to: try particles.enumerated().flatMap { r, particle -> [Int] in
                guard let box = particle.boxSize else {
                    throw DuetError("particle \(r + 1): image size unknown (no rlnImageSize and no readable image stack)")
                }
                return [box, box]
            })
            let pixels = try particles.enumerated().map { r, particle -> Double in
                guard let pixel_A = particle.pixelSize_A else {
                    throw DuetError("particle \(r + 1): pixel size unknown: pass --pixel-size")
                }
                return pixel_A
            }
            try ensureField(&array, "blob/psize_A", .float32)
            try array.setDoubles("blob/psize_A", to: pixels)
            // The factor to RELION's contrast: −1 for CryoSPARC's own (dark-protein) extractions, +1 for RELION's.
            try ensureField(&array, "blob/sign", .float32)
            try array.setDoubles("blob/sign", to: particles.map { Double($0.imageSign) })
            if particles.allSatisfy({ $0.ctf != nil }) { try writeCTF(&array, particles) }
            if particles.contains(where: { $0.pose != nil }) { try writePoses(&array, particles, pixels) }
            let statistics = particles.compactMap(\.poseStatistics)
            if statistics.count == particles.count {
                try ensureField(&array, "alignments3D/pose_ess", .float32)
                try array.setDoubles("alignments3D/pose_ess", to: statistics.map(\.effectiveSampleSize))
                try ensureField(&array, "duet/last_iteration", .uint32)
                try array.setInts("duet/last_iteration", to: statistics.map(\.lastIteration))
                try ensureField(&array, "alignments3D/alpha", .float32)
                try array.setDoubles("alignments3D/alpha", to: statistics.map(\.scale))
                try ensureField(&array, "duet/correlation", .float32)
                try array.setDoubles("duet/correlation", to: statistics.map(\.correlation))
                try ensureField(&array, "duet/residual_hotspot", .float32)
                try array.setDoubles("duet/residual_hotspot", to: statistics.map(\.residualHotspot))
                if statistics.allSatisfy({ $0.quality != nil }) {
                    try ensureField(&array, "duet/quality", .float32)
                    try array.setDoubles("duet/quality", to: statistics.map { $0.quality! })
                }
            }
            if particles.contains(where: { $0.halfSet != nil }) {
                try ensureField(&array, "alignments3D/split", .uint32)
                try array.setInts("alignments3D/split", to: particles.map { ($0.halfSet ?? .a).cryosparcSplit })
            }
        }
        return array
    }

    private static func writeCTF(_ array: inout NPYStructuredArray, _ particles: [Particle]) throws {
        let ctfs = particles.map { $0.ctf! }
        if !array.contains("ctf/type") {
            try array.addField("ctf/type", .bytes(9))
            try array.setStrings("ctf/type", to: ctfs.map { _ in "imported" })
        }
        try ensureField(&array, "ctf/exp_group_id", .uint32)
        try array.setInts("ctf/exp_group_id", to: particles.map(\.opticsGroup))
        let values: [(String, (CTFParameters) -> Double)] = [
            ("ctf/accel_kv", \.voltage_kV), ("ctf/cs_mm", \.sphericalAberration_mm),
            ("ctf/amp_contrast", \.amplitudeContrast), ("ctf/df1_A", \.defocusU_A), ("ctf/df2_A", \.defocusV_A),
            ("ctf/df_angle_rad", { $0.defocusAngle_deg * .pi / 180 }),
            ("ctf/phase_shift_rad", { $0.phaseShift_deg * .pi / 180 }), ("ctf/scale", \.scale),
            ("ctf/bfactor", \.bFactor_A2),
        ]
        for (name, value) in values {
            try ensureField(&array, name, .float32)
            try array.setDoubles(name, to: ctfs.map(value))
        }
    }

    private static func writePoses(_ array: inout NPYStructuredArray, _ particles: [Particle], _ pixels: [Double]) throws {
        let poses = particles.map { $0.pose ?? Pose(rotation: .identity, shiftX_A: 0, shiftY_A: 0) }
        try ensureField(&array, "alignments3D/pose", .float32, shape: [3])
        try array.setDoubles("alignments3D/pose", to: poses.flatMap { pose -> [Double] in
            let v = pose.rotation.cryosparcPose
            return [v.x, v.y, v.z]
        })
        try ensureField(&array, "alignments3D/shift", .float32, shape: [2])
        try array.setDoubles("alignments3D/shift", to: zip(poses, pixels).flatMap { pose, pixel_A in
            [pose.shiftX_A / pixel_A, pose.shiftY_A / pixel_A]
        })
        try ensureField(&array, "alignments3D/psize_A", .float32)
        try array.setDoubles("alignments3D/psize_A", to: pixels)
    }

    /// Adds field `name` unless present; a string field too short for `minimumStringLength` is re-made longer.
    private static func ensureField(_ array: inout NPYStructuredArray, _ name: String, _ dtype: NPYDType,
                                    shape: [Int] = [], minimumStringLength: Int = 0) throws {
        if array.contains(name) {
            let field = try array.field(name)
            guard field.dtype.isString && field.dtype.size < minimumStringLength else { return }
            try array.removeField(name)
        }
        try array.addField(name, dtype, shape: shape)
    }
}
