/// A 3-D map (or a stack of 2-D images held as sections) in memory, as read from or written to an MRC file.
///
/// Conventions:
/// - `data` holds `nx * ny * nz` voxels, x fastest then y then z: voxel (x, y, z) is at `x + nx * (y + ny * z)`.
/// - x, y, z are the *physical* axes of the map: a reader that meets a non-standard MRC axis order
///   (`mapc`/`mapr`/`maps` other than 1, 2, 3) has already permuted the voxels into this order.
/// - `pixelSize_A` is the voxel edge length in Å along x (MRC `cella.x / mx`), or `nil` when the file did not
///   say (cell length or sampling 0, which several real files have); callers must then take it from metadata.
public struct MRCVolume: Sendable, Equatable {
    /// Number of voxels along x (fastest axis).
    public var nx: Int
    /// Number of voxels along y.
    public var ny: Int
    /// Number of voxels along z (slowest axis); the number of images for an image stack.
    public var nz: Int
    /// Voxel edge length in Å, or `nil` when unknown.
    public var pixelSize_A: Float?
    /// The voxels, `nx * ny * nz` of them, x fastest.
    public var data: [Float]

    /// Makes a volume. `data.count` must equal `nx * ny * nz` (checked with a precondition).
    public init(nx: Int, ny: Int, nz: Int, pixelSize_A: Float? = nil, data: [Float]) {
        precondition(nx >= 0 && ny >= 0 && nz >= 0 && data.count == nx * ny * nz,
                     "MRCVolume: data has \(data.count) values, expected \(nx)×\(ny)×\(nz)")
        self.nx = nx
        self.ny = ny
        self.nz = nz
        self.pixelSize_A = pixelSize_A
        self.data = data
    }

    /// Makes a volume of zeros.
    public init(nx: Int, ny: Int, nz: Int, pixelSize_A: Float? = nil) {
        self.init(nx: nx, ny: ny, nz: nz, pixelSize_A: pixelSize_A,
                  data: [Float](repeating: 0, count: nx * ny * nz))
    }

    /// Number of voxels, `nx * ny * nz`.
    public var count: Int { nx * ny * nz }

    /// The voxel at (x, y, z), x fastest.
    public subscript(x: Int, y: Int, z: Int) -> Float {
        get { data[x + nx * (y + ny * z)] }
        set { data[x + nx * (y + ny * z)] = newValue }
    }
}
