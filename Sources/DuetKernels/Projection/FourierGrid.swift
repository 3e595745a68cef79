/// Geometry of the oversampled Fourier half-volume shared by `FourierVolume` and `BackProjector`.
///
/// - The real-space map of edge `box` (origin at `box/2`) is zero-padded to `paddedBox` = `round(paddingFactor ·
///   box)`, rounded up to even (RELION's rule), so the effective oversampling is `scale = paddedBox / box`; image
///   frequency `k` (cycles per image box) sits at padded frequency `scale · k`.
/// - Coefficients are about the map centre (`FourierCentring`), of the *unnormalised* DFT of the padded map
///   (`RealFFT`), so a slice through them is the DFT of the line-integral projection with no further scale.
/// - Storage is centred and holds only the half-space `x ≥ 0` within a cube that covers the sphere of padded
///   radius `scale · maxRadius_px` plus a one-sample margin for trilinear neighbours: indices `x ∈ 0…H`,
///   `y, z ∈ −H…H` with `H = halfExtent`, element `(x, y, z)` at `x + nx·((y + H) + ny·(z + H))`, x fastest.
///   Values for `x < 0` follow from Friedel symmetry `V(−k) = conj V(k)`.
public struct FourierGrid: Sendable, Equatable {
    /// Edge of the real-space map and of the images, in pixels.
    public let box: Int
    /// Edge of the zero-padded real-space map that is Fourier transformed (even).
    public let paddedBox: Int
    /// Oversampling `paddedBox / box`.
    public let scale: Double
    /// Largest image-frequency radius (cycles per box, ≤ box/2) that projections and insertions may use.
    public let maxRadius_px: Int
    /// `H`: stored indices run `0…H` along x and `−H…H` along y and z.
    public let halfExtent: Int

    /// A grid for maps of edge `box`, padded by `paddingFactor` (RELION's `--pad`, default 2), holding image
    /// frequencies up to `maxRadius_px` (default and maximum `box/2`, Nyquist).
    public init(box: Int, paddingFactor: Double = 2, maxRadius_px: Int? = nil) {
        precondition(box >= 2 && paddingFactor >= 1, "FourierGrid: box \(box), padding \(paddingFactor)")
        self.box = box
        var padded = Int((paddingFactor * Double(box)).rounded())
        padded += padded % 2
        paddedBox = padded
        scale = Double(padded) / Double(box)
        let radius = min(maxRadius_px ?? box / 2, box / 2)
        precondition(radius >= 1, "FourierGrid: maxRadius_px must be ≥ 1")
        self.maxRadius_px = radius
        halfExtent = Int((scale * Double(radius)).rounded(.down)) + 2
    }

    /// Stored elements along x: `H + 1`.
    @inlinable public var nx: Int { halfExtent + 1 }
    /// Stored elements along y (and z): `2H + 1`.
    @inlinable public var ny: Int { 2 * halfExtent + 1 }
    /// Stored elements in all: `nx · ny · ny`.
    @inlinable public var count: Int { nx * ny * ny }

    /// Storage index of padded frequency `(x, y, z)`, `x ∈ 0…H`, `y, z ∈ −H…H`.
    @inlinable public func index(x: Int, y: Int, z: Int) -> Int {
        x + nx * ((y + halfExtent) + ny * (z + halfExtent))
    }

    /// Padded radius (in padded frequency units) of the sphere that holds data: RELION's
    /// `round(padding · r_max)`.
    public var sphereRadius: Int { Int((scale * Double(maxRadius_px)).rounded()) }

    /// Number of complex elements of one image half-plane, `box · (box/2 + 1)` (rows of `box/2 + 1`).
    public var imageComplexCount: Int { box * (box / 2 + 1) }
}
