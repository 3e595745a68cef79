/// Per-particle contrast transfer function in the CTFFIND4/RELION model. Units as in RELION STAR files:
/// defocus in Å (positive = underfocus), astigmatism angle in degrees, voltage in kV, spherical aberration in mm,
/// amplitude contrast as a fraction, phase shift in degrees, B-factor in Å², scale dimensionless.
public struct CTFParameters: Equatable, Sendable {
    public var defocusU_A: Double
    public var defocusV_A: Double
    public var defocusAngle_deg: Double
    public var voltage_kV: Double
    public var sphericalAberration_mm: Double
    public var amplitudeContrast: Double
    public var phaseShift_deg: Double
    public var bFactor_A2: Double
    public var scale: Double

    public init(defocusU_A: Double, defocusV_A: Double, defocusAngle_deg: Double, voltage_kV: Double,
                sphericalAberration_mm: Double, amplitudeContrast: Double, phaseShift_deg: Double = 0,
                bFactor_A2: Double = 0, scale: Double = 1) {
        self.defocusU_A = defocusU_A
        self.defocusV_A = defocusV_A
        self.defocusAngle_deg = defocusAngle_deg
        self.voltage_kV = voltage_kV
        self.sphericalAberration_mm = sphericalAberration_mm
        self.amplitudeContrast = amplitudeContrast
        self.phaseShift_deg = phaseShift_deg
        self.bFactor_A2 = bFactor_A2
        self.scale = scale
    }
}
