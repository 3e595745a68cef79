import DuetCore

extension ParallelHDF5Writer {
    /// Writes this rank's particles as its rows of the table `group` (collective; rows land in rank order).
    /// One 1-D dataset per column: `imagePath` (bytes), `imageIndex` (0-based), `opticsGroup`, `pixelSize_A`,
    /// the CTF (`defocusU_A`, `defocusV_A`, `defocusAngle_deg`, `voltage_kV`, `sphericalAberration_mm`,
    /// `amplitudeContrast`, `phaseShift_deg`, `bFactor_A2`, `ctfScale`), the pose as RELION Euler angles
    /// (`angleRot_deg`, `angleTilt_deg`, `anglePsi_deg`) and shifts (`shiftX_A`, `shiftY_A`), and `halfSet`
    /// (0 = A, 1 = B, -1 = none). Unknown values are NaN, so every rank writes the same columns.
    public func writeParticles(_ particles: [Particle], group: String = "particles") throws {
        let ctfs = particles.map(\.ctf)
        let angles = particles.map { $0.pose?.rotation.relionEulerAngles }
        func ctfColumn(_ value: (CTFParameters) -> Double) -> HDF5Column {
            .double(ctfs.map { $0.map(value) ?? .nan })
        }
        let columns: [(String, HDF5Column)] = [
            ("imagePath", .string(particles.map(\.image.path))),
            ("imageIndex", .int64(particles.map { Int64($0.image.index) })),
            ("opticsGroup", .int32(particles.map { Int32($0.opticsGroup) })),
            ("pixelSize_A", .double(particles.map { $0.pixelSize_A ?? .nan })),
            ("defocusU_A", ctfColumn(\.defocusU_A)),
            ("defocusV_A", ctfColumn(\.defocusV_A)),
            ("defocusAngle_deg", ctfColumn(\.defocusAngle_deg)),
            ("voltage_kV", ctfColumn(\.voltage_kV)),
            ("sphericalAberration_mm", ctfColumn(\.sphericalAberration_mm)),
            ("amplitudeContrast", ctfColumn(\.amplitudeContrast)),
            ("phaseShift_deg", ctfColumn(\.phaseShift_deg)),
            ("bFactor_A2", ctfColumn(\.bFactor_A2)),
            ("ctfScale", ctfColumn(\.scale)),
            ("angleRot_deg", .double(angles.map { $0?.rot_deg ?? .nan })),
            ("angleTilt_deg", .double(angles.map { $0?.tilt_deg ?? .nan })),
            ("anglePsi_deg", .double(angles.map { $0?.psi_deg ?? .nan })),
            ("shiftX_A", .double(particles.map { $0.pose?.shiftX_A ?? .nan })),
            ("shiftY_A", .double(particles.map { $0.pose?.shiftY_A ?? .nan })),
            ("halfSet", .int32(particles.map { Int32($0.halfSet?.rawValue ?? -1) })),
        ]
        for (name, column) in columns {
            try writeColumn(group + "/" + name, column)
        }
    }
}
