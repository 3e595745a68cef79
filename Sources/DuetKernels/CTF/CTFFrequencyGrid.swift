/// The spatial frequencies of the FFTW real-to-complex half plane of an `nx × ny` image (any parity), in 1/Å.
///
/// Layout (row-major, the layout `fftw_plan_dft_r2c_2d(ny, nx, …)` produces): rows `i = 0..<ny`, columns
/// `j = 0..<nx/2+1`; element `i·(nx/2+1) + j` holds frequency `(kx, ky) = (j, i ≤ ny/2 ? i : i − ny)` in Fourier
/// pixels, i.e. `(kx / (nx·pixelSize_A), ky / (ny·pixelSize_A))` in 1/Å. For an even `ny` the Nyquist row
/// `i = ny/2` is taken as `+ny/2`, as RELION's `FOR_ALL_ELEMENTS_IN_FFTW_TRANSFORM2D` does for square images.
///
/// Build one grid per image size and reuse it for every image: it holds the per-row and per-column frequencies, so
/// filling a CTF image costs one `sin` (and one multiply for the envelope) per element and allocates nothing.
public struct CTFFrequencyGrid: Sendable {
    /// Image width and height in pixels (real space).
    public let nx: Int, ny: Int
    /// Pixel size in Å.
    public let pixelSize_A: Double
    /// Number of columns of the half plane, `nx/2 + 1`.
    public let halfWidth: Int
    /// Frequency (1/Å) of each column `j` and each row `i`.
    public let columnFrequency: [Double]
    public let rowFrequency: [Double]

    /// Number of elements of the half plane, `ny · (nx/2 + 1)`.
    public var count: Int { ny * halfWidth }

    public init(nx: Int, ny: Int, pixelSize_A: Double) {
        precondition(nx > 0 && ny > 0 && pixelSize_A > 0, "CTFFrequencyGrid: bad size or pixel size")
        self.nx = nx
        self.ny = ny
        self.pixelSize_A = pixelSize_A
        halfWidth = nx / 2 + 1
        let xs = Double(nx) * pixelSize_A, ys = Double(ny) * pixelSize_A
        columnFrequency = (0..<(nx / 2 + 1)).map { Double($0) / xs }
        rowFrequency = (0..<ny).map { Double($0 <= ny / 2 ? $0 : $0 - ny) / ys }
    }

    /// A square `box × box` image.
    public init(box: Int, pixelSize_A: Double) {
        self.init(nx: box, ny: box, pixelSize_A: pixelSize_A)
    }
}

/// What to write into a CTF image.
public enum CTFOutput: Sendable {
    /// The signed CTF (RELION's `getCTF`).
    case value
    /// CTF², the weight of a CTF-multiplied image in a reconstruction.
    case squared
    /// |CTF| (RELION's `do_abs`).
    case absolute
}
