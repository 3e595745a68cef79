import DuetCore
import DuetFormats

extension MRCVolume {
    /// The volume in `path` (`MRCFile.readVolume`), refused with a one-line error naming the first voxel that is NaN
    /// or infinite: a map fed to simulate, fsc or align must be numbers everywhere.
    static func readFinite(path: String) throws -> MRCVolume {
        let volume = try MRCFile.readVolume(path: path)
        if let bad = volume.data.firstIndex(where: { !$0.isFinite }) {
            let (x, y, z) = (bad % volume.nx, (bad / volume.nx) % volume.ny, bad / (volume.nx * volume.ny))
            throw DuetError("\(path): voxel (\(x), \(y), \(z)) is \(volume.data[bad])")
        }
        return volume
    }
}
