import DuetCore
import Foundation

/// A RELION optics group: what the particles of one group share. Values absent from the file are nil.
public struct OpticsGroup: Equatable, Sendable {
    /// 1-based group number (`rlnOpticsGroup`).
    public var number: Int
    public var name: String
    public var pixelSize_A: Double?
    public var imageSize: Int?
    public var voltage_kV: Double?
    public var sphericalAberration_mm: Double?
    public var amplitudeContrast: Double?

    public init(number: Int, name: String, pixelSize_A: Double? = nil, imageSize: Int? = nil, voltage_kV: Double? = nil,
                sphericalAberration_mm: Double? = nil, amplitudeContrast: Double? = nil) {
        self.number = number
        self.name = name
        self.pixelSize_A = pixelSize_A
        self.imageSize = imageSize
        self.voltage_kV = voltage_kV
        self.sphericalAberration_mm = sphericalAberration_mm
        self.amplitudeContrast = amplitudeContrast
    }
}

/// The file a particle set was read from, kept whole so that writing the same format again keeps every column
/// or field the input had, including those Duet does not interpret.
public enum ParticleSource: Sendable {
    /// A RELION STAR document and the name of its particle block.
    case star(StarDocument, particleBlock: String)
    /// A CryoSPARC `.cs` structured array.
    case cryosparc(NPYStructuredArray)
    /// Made by Duet (e.g. simulated): no original columns to keep.
    case generated
}

/// Particles read from a RELION STAR or CryoSPARC `.cs` file, in file order, in the common `Particle` model.
public struct ParticleSet: Sendable {
    public var particles: [Particle]
    public var opticsGroups: [OpticsGroup]
    /// Absolute directory that relative image paths are resolved against: the metadata file's own directory, or
    /// a project directory (`baseIsProject`) as RELION and CryoSPARC use (see `resolvingImageBase`).
    public var baseDirectory: String
    /// True when `baseDirectory` is a project the paths are relative to (a RELION project the run started in,
    /// a CryoSPARC project above the `.cs` file's job folder), not the metadata file's own directory.
    public var baseIsProject: Bool
    public var source: ParticleSource

    public init(particles: [Particle], opticsGroups: [OpticsGroup], baseDirectory: String, baseIsProject: Bool = false,
                source: ParticleSource) {
        self.particles = particles
        self.opticsGroups = opticsGroups
        self.baseDirectory = baseDirectory
        self.baseIsProject = baseIsProject
        self.source = source
    }

    /// The absolute path of a particle's image stack.
    public func imagePath(of particle: Particle) -> String {
        particle.image.path.hasPrefix("/") ? particle.image.path : baseDirectory + "/" + particle.image.path
    }
}

extension ParticleSet {
    /// The particles at `rows`, in that order, with the same rows of the source file, so that writing the subset
    /// keeps every input column. A source whose row count no longer matches the particles is not kept.
    public func selecting(rows: [Int]) throws -> ParticleSet {
        var subset = self
        subset.particles = rows.map { particles[$0] }
        switch source {
        case .star(var document, let blockName):
            guard let b = document.blockIndex(named: blockName), let table = document.blocks[b].table,
                  table.rowCount == particles.count else { subset.source = .generated; break }
            document.blocks[b].table!.rows = rows.map { table.rows[$0] }
            subset.source = .star(document, particleBlock: blockName)
        case .cryosparc(let array):
            subset.source = array.count == particles.count ? .cryosparc(try array.selecting(rows: rows)) : .generated
        case .generated:
            break
        }
        return subset
    }
}
