import DuetCore
import Foundation

/// Maps RELION STAR particle files (3.0 without optics groups, 3.1+ with a `data_optics` block before or after
/// `data_particles`) to and from `ParticleSet`.
///
/// Reading: the particle block is `data_particles`, or else the first block whose loop has `rlnImageName`.
/// Per-particle values win over optics-group values. Pixel size, in order: the override, `rlnImagePixelSize`,
/// `rlnPixelSize`, `rlnDetectorPixelSize`·10⁴/`rlnMagnification`. CTF values absent from the file take RELION's
/// defaults (200 kV, Cs 0 mm, amplitude contrast 0, no phase shift, B-factor 0, scale 1). Shifts come from `rlnOriginX/YAngst`, or
/// from `rlnOriginX/Y` (pixels) times the pixel size.
///
/// Writing keeps every column of a STAR input and updates the ones Duet owns (poses, shifts, subsets, image
/// names); other inputs are written as RELION 3.1 with one optics group per distinct optics.
public enum StarParticles {
    public static func read(_ path: String, pixelSize_A override: Double? = nil) throws -> ParticleSet {
        try particleSet(from: StarReader.read(path: path), path: path, pixelSize_A: override)
    }

    /// The particles of a parsed STAR document; `path` locates relative image paths and names errors.
    public static func particleSet(from document: StarDocument, path: String, pixelSize_A override: Double? = nil) throws -> ParticleSet {
        let blockName = try particleBlockName(document, path: path)
        let block = document.block(named: blockName)!
        let optics = try readOptics(document.block(named: "optics"), path: path)
        let rows = block.table?.rowCount ?? 0

        let imageNames = try block.requiredColumn("rlnImageName")
        let groupNumbers = try block.intColumn("rlnOpticsGroup") ?? Array(repeating: 1, count: rows)
        func column(_ name: String) throws -> [Double]? { try block.doubleColumn(name) }
        let pixelSize = try column("rlnImagePixelSize") ?? column("rlnPixelSize")
        let detectorPixel_um = try column("rlnDetectorPixelSize"), magnification = try column("rlnMagnification")
        let defocusU = try column("rlnDefocusU"), defocusV = try column("rlnDefocusV")
        let defocusAngle = try column("rlnDefocusAngle"), phaseShift = try column("rlnPhaseShift")
        let bFactor = try column("rlnCtfBfactor"), scale = try column("rlnCtfScalefactor")
        let voltage = try column("rlnVoltage"), cs = try column("rlnSphericalAberration")
        let q0 = try column("rlnAmplitudeContrast")
        let rot = try column("rlnAngleRot"), tilt = try column("rlnAngleTilt"), psi = try column("rlnAnglePsi")
        let originXA = try column("rlnOriginXAngst"), originYA = try column("rlnOriginYAngst")
        let originXpx = try column("rlnOriginX"), originYpx = try column("rlnOriginY")
        let subsets = try block.intColumn("rlnRandomSubset")
        let hasPose = rot != nil || tilt != nil || psi != nil

        var particles = [Particle]()
        particles.reserveCapacity(rows)
        for r in 0..<rows {
            func fail(_ message: String) -> DuetError { DuetError("\(path): particle \(r + 1): \(message)") }
            let group = optics.first { $0.number == groupNumbers[r] }
            if !optics.isEmpty && group == nil {
                throw fail("rlnOpticsGroup \(groupNumbers[r]) is not in data_optics")
            }
            var pixel_A = override ?? pixelSize?[r] ?? group?.pixelSize_A
            if pixel_A == nil, let detectorPixel_um, let magnification, magnification[r] > 0 {
                pixel_A = detectorPixel_um[r] * 1e4 / magnification[r]
            }

            var ctf: CTFParameters?
            if let defocusU {
                // RELION's own defaults where a column is absent: 200 kV, Cs 0 mm, amplitude contrast 0.
                let kV = voltage?[r] ?? group?.voltage_kV ?? 200
                let csmm = cs?[r] ?? group?.sphericalAberration_mm ?? 0
                let amplitude = q0?[r] ?? group?.amplitudeContrast ?? 0
                ctf = CTFParameters(defocusU_A: defocusU[r], defocusV_A: defocusV?[r] ?? defocusU[r],
                                    defocusAngle_deg: defocusAngle?[r] ?? 0, voltage_kV: kV,
                                    sphericalAberration_mm: csmm, amplitudeContrast: amplitude,
                                    phaseShift_deg: phaseShift?[r] ?? 0, bFactor_A2: bFactor?[r] ?? 0,
                                    scale: scale?[r] ?? 1)
            }

            var pose: Pose?
            if hasPose {
                let angles = RelionEulerAngles(rot_deg: rot?[r] ?? 0, tilt_deg: tilt?[r] ?? 0, psi_deg: psi?[r] ?? 0)
                var shiftX_A = originXA?[r] ?? 0, shiftY_A = originYA?[r] ?? 0
                if originXA == nil && originYA == nil && (originXpx != nil || originYpx != nil) {
                    guard let pixel_A else {
                        throw fail("rlnOriginX/Y are in pixels but the pixel size is unknown: pass --pixel-size")
                    }
                    shiftX_A = (originXpx?[r] ?? 0) * pixel_A
                    shiftY_A = (originYpx?[r] ?? 0) * pixel_A
                }
                pose = Pose(rotation: Rotation(relion: angles), shiftX_A: shiftX_A, shiftY_A: shiftY_A)
            }

            var half: HalfSet?
            if let subsets {
                guard let h = HalfSet(relionSubset: subsets[r]) else {
                    throw fail("rlnRandomSubset must be 1 or 2, not \(subsets[r])")
                }
                half = h
            }

            particles.append(Particle(image: try imageLocation(imageNames[r], path: path, row: r),
                                      pixelSize_A: pixel_A, boxSize: group?.imageSize, opticsGroup: groupNumbers[r],
                                      ctf: ctf, pose: pose, halfSet: half))
        }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return ParticleSet(particles: particles, opticsGroups: optics, baseDirectory: directory,
                           source: .star(document, particleBlock: blockName))
    }

    /// `N@stack.mrcs` → (N-1, stack.mrcs); a name without `@` is image 0 of a single-image file.
    static func imageLocation(_ name: String, path: String, row: Int) throws -> ImageLocation {
        guard let at = name.firstIndex(of: "@") else { return ImageLocation(index: 0, path: name, isWholeFile: true) }
        guard let number = Int(name[..<at]), number >= 1 else {
            throw DuetError("\(path): particle \(row + 1): rlnImageName '\(name)' is not of the form N@stack.mrcs")
        }
        return ImageLocation(index: number - 1, path: String(name[name.index(after: at)...]))
    }

    private static func particleBlockName(_ document: StarDocument, path: String) throws -> String {
        if let block = document.block(named: "particles"), block.table != nil { return block.name }
        if let block = document.blocks.first(where: { $0.columnIndex("rlnImageName") != nil }) { return block.name }
        throw DuetError("\(path): no particle table (a loop_ with _rlnImageName) in any data block")
    }

    private static func readOptics(_ block: StarBlock?, path: String) throws -> [OpticsGroup] {
        guard let block, let table = block.table else { return [] }
        let numbers = try block.intColumn("rlnOpticsGroup") ?? Array(1...max(1, table.rowCount))
        let names = block.column("rlnOpticsGroupName")
        let pixel = try block.doubleColumn("rlnImagePixelSize") ?? block.doubleColumn("rlnPixelSize")
        let size = try block.intColumn("rlnImageSize")
        let voltage = try block.doubleColumn("rlnVoltage")
        let cs = try block.doubleColumn("rlnSphericalAberration")
        let q0 = try block.doubleColumn("rlnAmplitudeContrast")
        return (0..<table.rowCount).map { r in
            OpticsGroup(number: numbers[r], name: names?[r] ?? "opticsGroup\(numbers[r])", pixelSize_A: pixel?[r],
                        imageSize: size?[r], voltage_kV: voltage?[r], sphericalAberration_mm: cs?[r],
                        amplitudeContrast: q0?[r])
        }
    }
}
