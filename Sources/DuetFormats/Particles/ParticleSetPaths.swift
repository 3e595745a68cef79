import DuetCore
import Foundation

extension ParticleSet {
    /// The same particles with `baseDirectory` the first of `candidates` (directories in order of preference,
    /// the metadata file's own directory, today's `baseDirectory`, among them) under which the first relative image
    /// path exists: RELION looks in its project, the directory it runs in, first; CryoSPARC's paths are relative to
    /// the project folder above a job's. Unchanged when none holds it. A file's paths share one base. Throws when
    /// two candidates hold different files of that name: which one the file means cannot be told.
    func resolvingImageBase(candidates: [String], path: String) throws -> ParticleSet {
        guard let relative = particles.lazy.map(\.image.path).first(where: { !$0.hasPrefix("/") }) else { return self }
        let own = URL(fileURLWithPath: baseDirectory).standardizedFileURL.path
        var holders: [(directory: String, file: String)] = []
        for candidate in candidates.map({ URL(fileURLWithPath: $0).standardizedFileURL.path }) {
            let file = URL(fileURLWithPath: candidate + "/" + relative).resolvingSymlinksInPath().path
            if FileManager.default.fileExists(atPath: file) && !holders.contains(where: { $0.file == file }) {
                holders.append((candidate, file))
            }
        }
        guard let chosen = holders.first else { return self }
        if holders.count > 1 {
            throw DuetError("\(path): image stack \(relative) exists both as \(holders[0].file) and as \(holders[1].file); "
                            + "run from the directory the file's paths are relative to, or make them absolute")
        }
        var copy = self
        copy.baseDirectory = chosen.directory
        copy.baseIsProject = chosen.directory != own
        return copy
    }

    /// The same particles with image paths rewritten for metadata written in `directory`: paths relative to a
    /// project stay as they are when `directory` lies inside that project (where RELION or CryoSPARC, run from the
    /// project, finds them) and become absolute otherwise; paths relative to the input file's own directory are
    /// rewritten relative to `directory`. Absolute paths stay absolute.
    public func rebased(to directory: String) -> ParticleSet {
        let from = URL(fileURLWithPath: baseDirectory).standardizedFileURL.path
        let to = URL(fileURLWithPath: directory).standardizedFileURL.path
        if baseIsProject {
            return to == from || to.hasPrefix(from + "/") ? self : absolutePaths()
        }
        guard from != to else { return self }
        var copy = self
        var cache = [String: String]()
        for i in copy.particles.indices {
            let original = copy.particles[i].image.path
            guard !original.hasPrefix("/") else { continue }
            if cache[original] == nil {
                let absolute = URL(fileURLWithPath: from + "/" + original).standardizedFileURL.path
                cache[original] = Self.relativePath(of: absolute, from: to)
            }
            copy.particles[i].image.path = cache[original]!
        }
        copy.baseDirectory = to
        return copy
    }

    /// The same particles with every image path absolute.
    func absolutePaths() -> ParticleSet {
        var copy = self
        for i in copy.particles.indices where !copy.particles[i].image.path.hasPrefix("/") {
            copy.particles[i].image.path = URL(fileURLWithPath: imagePath(of: copy.particles[i])).standardizedFileURL.path
        }
        copy.baseIsProject = false
        return copy
    }

    /// Fills unknown image sizes from the headers of the particles' MRC stacks where those files exist.
    public mutating func fillMissingBoxSizesFromStacks() {
        let source = ParticleImageSource(set: self)
        for i in particles.indices where particles[i].boxSize == nil {
            particles[i].boxSize = (try? source.stack(of: particles[i]))??.nx
        }
    }

    /// `path` relative to `directory`, both absolute and standardised, with `..` where needed.
    static func relativePath(of path: String, from directory: String) -> String {
        let target = path.split(separator: "/"), base = directory.split(separator: "/")
        var common = 0
        while common < min(target.count, base.count) && target[common] == base[common] { common += 1 }
        let ups = Array(repeating: "..", count: base.count - common)
        return (ups + target[common...].map(String.init)).joined(separator: "/")
    }
}
