/// A Fourier shell correlation curve of two `box³` volumes with voxel size `pixelSize_A`.
///
/// `values[s]` is the FSC in shell `s = 0…box/2` (shell = rounded radius in Fourier pixels); shell `s > 0` has
/// resolution `box · pixelSize_A / s` Å. `values[0]` (the DC term) is 1 by convention, as in RELION.
public struct FSCCurve: Sendable, Equatable {
    /// Box size in voxels (the volumes are cubic).
    public let box: Int
    /// Voxel size in Å.
    public let pixelSize_A: Double
    /// FSC per shell, `box/2 + 1` values.
    public let values: [Double]
    /// Number of Fourier coefficients (full transform) in each shell.
    public let coefficientCounts: [Int]

    public init(box: Int, pixelSize_A: Double, values: [Double], coefficientCounts: [Int]) {
        self.box = box
        self.pixelSize_A = pixelSize_A
        self.values = values
        self.coefficientCounts = coefficientCounts
    }

    /// Number of shells, `box/2 + 1`.
    public var shellCount: Int { values.count }

    /// Resolution in Å of a (possibly fractional) shell index: `box · pixelSize_A / shell` (∞ at shell 0).
    public func resolution_A(shell: Double) -> Double {
        shell > 0 ? Double(box) * pixelSize_A / shell : .infinity
    }

    /// Where the curve first drops below `threshold` (0.143 or 0.5 usually).
    ///
    /// Scanning from shell 1, the first shell `s` with `values[s] < threshold` gives the crossing at the fractional
    /// shell `s − 1 + (values[s−1] − threshold) / (values[s−1] − values[s])` (linear interpolation between the two
    /// shells in spatial frequency). If the curve never drops below, the last shell is reported with `crossed` false.
    public func crossing(threshold: Double) -> FSCCrossing {
        for s in 1..<values.count where values[s] < threshold {
            let above = values[s - 1], below = values[s]
            let fraction = above > below ? (above - threshold) / (above - below) : 0
            let shell = Double(s - 1) + min(max(fraction, 0), 1)
            return FSCCrossing(shell: shell, resolution_A: resolution_A(shell: shell), crossed: true)
        }
        let last = Double(values.count - 1)
        return FSCCrossing(shell: last, resolution_A: resolution_A(shell: last), crossed: false)
    }

    /// Resolution in Å at `threshold` (see `crossing(threshold:)`).
    public func resolution_A(threshold: Double) -> Double { crossing(threshold: threshold).resolution_A }
}

/// The first crossing of an FSC curve with a threshold.
public struct FSCCrossing: Sendable, Equatable {
    /// Fractional shell index (Fourier pixels) of the crossing.
    public let shell: Double
    /// Resolution in Å, `box · pixelSize_A / shell`.
    public let resolution_A: Double
    /// False when the curve stays at or above the threshold up to the last shell (then `shell` is the last one).
    public let crossed: Bool
}
