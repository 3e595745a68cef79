import DuetCore
import Foundation

extension ParticleSet {
    /// The same particles with image paths rewritten relative to `directory`, for metadata written there
    /// (absolute paths stay absolute).
    public func rebased(to directory: String) -> ParticleSet {
        let from = URL(fileURLWithPath: baseDirectory).standardizedFileURL.path
        let to = URL(fileURLWithPath: directory).standardizedFileURL.path
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

    /// Fills unknown image sizes from the headers of the particles' MRC stacks where those files exist.
    public mutating func fillMissingBoxSizesFromStacks() {
        var sizeOfStack = [String: Int?]()
        for i in particles.indices where particles[i].boxSize == nil {
            let stack = imagePath(of: particles[i])
            if sizeOfStack[stack] == nil {
                sizeOfStack[stack] = (try? MRCFile(path: stack)).map { $0.nx }
            }
            particles[i].boxSize = sizeOfStack[stack]!
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
