import DuetCore
import DuetFormats
import Foundation

/// `duet info FILE`: what a particle file (STAR or `.cs`), any other STAR file, or an MRC file holds: counts, box,
/// pixel size, optics groups, CTF ranges and whether poses and half-set splits are present.
public enum InfoJob {
    public struct Configuration: Sendable {
        public var path: String
        /// Overrides a particle file's pixel size.
        public var pixelSize_A: Double?

        public init(path: String) { self.path = path }
    }

    /// Returns the description `duet info` prints.
    public static func run(_ configuration: Configuration) throws -> String {
        let path = configuration.path, pixelSize_A = configuration.pixelSize_A
        guard FileManager.default.fileExists(atPath: path) else { throw DuetError("\(path): no such file") }
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "star":
            let document = try StarReader.read(path: path)
            guard document.blocks.contains(where: { $0.columnIndex("rlnImageName") != nil }) else {
                return describeBlocks(document, path: path)
            }
            let set = try ParticleFile.locatingImages(StarParticles.particleSet(from: document, path: path, pixelSize_A: pixelSize_A),
                                                      format: .star, path: path)
            let version = document.block(named: "optics") != nil ? "RELION STAR 3.1+ (optics groups)" : "RELION STAR 3.0"
            return try describe(set, path: path, format: version)
        case "cs":
            let array = try NPYFile.read(path: path)
            guard array.contains("blob/path") else { return describeFields(array, path: path) }
            return try describe(ParticleFile.read(path, pixelSize_A: pixelSize_A), path: path, format: "CryoSPARC .cs")
        case "mrc", "mrcs", "map", "st", "rec":
            return try describeMRC(path)
        default:
            throw DuetError("\(path): unknown file format (expected .star, .cs, .mrc, .mrcs or .map)")
        }
    }

    static func describe(_ set: ParticleSet, path: String, format: String) throws -> String {
        var set = set
        let missing = try checkStacks(&set)
        let particles = set.particles
        var lines = ["\(path): \(format)", row("particles", "\(particles.count)")]
        lines.append(row("box", range(particles.compactMap { $0.boxSize.map(Double.init) }, unit: "px", digits: 0)))
        lines.append(row("pixel size", range(particles.compactMap(\.pixelSize_A), unit: "Å", digits: 4)))
        let groups = Set(particles.map(\.opticsGroup)).count
        lines.append(row("optics groups", "\(groups)" + (set.opticsGroups.isEmpty ? "" : ": "
            + set.opticsGroups.map { "\($0.number) \($0.name)" }.joined(separator: ", "))))
        let ctfs = particles.compactMap(\.ctf)
        if ctfs.isEmpty {
            lines.append(row("CTF", "none"))
        } else {
            lines.append(row("CTF", "\(ctfs.count) of \(particles.count) particles"))
            lines.append(row("  defocus U", range(ctfs.map(\.defocusU_A), unit: "Å", digits: 1)))
            lines.append(row("  defocus V", range(ctfs.map(\.defocusV_A), unit: "Å", digits: 1)))
            lines.append(row("  astigmatism angle", range(ctfs.map(\.defocusAngle_deg), unit: "°", digits: 2)))
            lines.append(row("  voltage", range(ctfs.map(\.voltage_kV), unit: "kV", digits: 1)))
            lines.append(row("  Cs", range(ctfs.map(\.sphericalAberration_mm), unit: "mm", digits: 3)))
            lines.append(row("  amplitude contrast", range(ctfs.map(\.amplitudeContrast), unit: "", digits: 3)))
            lines.append(row("  phase shift", range(ctfs.map(\.phaseShift_deg), unit: "°", digits: 2)))
            lines.append(row("  B-factor", range(ctfs.map(\.bFactor_A2), unit: "Å²", digits: 1)))
        }
        let posed = particles.filter { $0.pose != nil }.count
        lines.append(row("poses", posed == 0 ? "no" : "\(posed) of \(particles.count) particles"))
        let halves = particles.compactMap(\.halfSet)
        lines.append(row("half-set split", halves.isEmpty ? "no" :
            "A \(halves.filter { $0 == .a }.count), B \(halves.filter { $0 == .b }.count)"
            + (halves.count < particles.count ? ", \(particles.count - halves.count) unassigned" : "")))
        let stacks = Set(particles.map(\.image.path))
        lines.append(row("image stacks", "\(stacks.count) file(s)" + (missing == 0 ? "" : ", \(missing) not found")))
        return lines.joined(separator: "\n")
    }

    /// Opens the header of every stack that exists once, checks that each particle's image is in it and fills
    /// image sizes the metadata does not state; returns how many stacks were not found (metadata is often
    /// inspected without its images).
    static func checkStacks(_ set: inout ParticleSet) throws -> Int {
        let source = ParticleImageSource(set: set)
        var missing = Set<String>()
        for r in set.particles.indices {
            let particle = set.particles[r]
            guard let stack = try source.stack(of: particle) else {
                missing.insert(set.imagePath(of: particle))
                continue
            }
            try source.checkLocation(of: particle, in: stack, row: r + 1)
            if particle.boxSize == nil { set.particles[r].boxSize = stack.nx }
        }
        return missing.count
    }

    static func describeBlocks(_ document: StarDocument, path: String) -> String {
        var lines = ["\(path): STAR file without particles, \(document.blocks.count) data block(s)"]
        for block in document.blocks {
            let table = block.table.map { "loop of \($0.rowCount) rows × \($0.columnCount) columns" } ?? "no loop"
            lines.append(row("  data_\(block.name)", "\(block.pairs.count) item(s), \(table)"))
        }
        return lines.joined(separator: "\n")
    }

    static func describeFields(_ array: NPYStructuredArray, path: String) -> String {
        let groups = Dictionary(grouping: array.fieldNames) { $0.split(separator: "/").first.map(String.init) ?? $0 }
        var lines = ["\(path): CryoSPARC .cs without particle images (no blob/path), \(array.count) row(s), "
            + "\(array.fields.count) field(s)"]
        for prefix in groups.keys.sorted() {
            lines.append(row("  " + prefix, "\(groups[prefix]!.count) field(s)"))
        }
        return lines.joined(separator: "\n")
    }

    static func describeMRC(_ path: String) throws -> String {
        let file = try MRCFile(path: path)
        let h = file.header
        let kind = file.isImageStack ? "image stack of \(h.nz) image(s)" : "volume"
        return [
            "\(path): MRC (\(MRCHeader.modeName(h.mode)), \(h.byteOrder)), \(kind)",
            row("size", "\(h.nx) × \(h.ny) × \(h.nz) (axis order \(h.mapc) \(h.mapr) \(h.maps))"),
            row("pixel size", file.pixelSize_A.map { format(Double($0), digits: 4) + " Å" } ?? "unset (0 in header)"),
            row("header min/max/mean", "\(h.dmin) / \(h.dmax) / \(h.dmean)"),
            row("extended header", "\(h.nsymbt) bytes" + (h.exttypString.isEmpty ? "" : " (\(h.exttypString))")),
        ].joined(separator: "\n")
    }

    private static func row(_ label: String, _ value: String) -> String {
        label.padding(toLength: 22, withPad: " ", startingAt: 0) + value
    }

    private static func range(_ values: [Double], unit: String, digits: Int) -> String {
        guard let low = values.min(), let high = values.max() else { return "unknown" }
        let suffix = unit.isEmpty ? "" : " " + unit
        if low == high { return format(low, digits: digits) + suffix }
        let mean = values.reduce(0, +) / Double(values.count)
        return "\(format(low, digits: digits)) – \(format(high, digits: digits))\(suffix) (mean \(format(mean, digits: digits)))"
    }

    private static func format(_ value: Double, digits: Int) -> String {
        String(format: "%.\(digits)f", value)
    }
}
