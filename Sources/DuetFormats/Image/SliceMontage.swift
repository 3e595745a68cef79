/// The three central sections of cubic volumes side by side, one row of panels per volume (e.g. half A above
/// half B), as a grayscale picture.
///
/// Volumes are `box³` floats, x fastest (`index = x + box·(y + box·z)`, the MRC order), centre voxel `c = box/2`.
/// Panels, left to right: XY at z = c (columns x, rows y), XZ at y = c (columns x, rows z) and YZ at x = c
/// (columns y, rows z). The vertical axis points up, as in IMOD or ChimeraX views of the map: the bottom row of a
/// panel is index 0, the top row index `box − 1`. Panels are `gap_px` apart on a white background, and one display
/// range, taken over all the panels together, maps values to gray so that the rows can be compared.
public enum SliceMontage {
    /// The central XY, XZ and YZ sections of `volume`, each `box²` values with row 0 at the top (see the type's
    /// documentation for the orientation).
    public static func centralSlices(of volume: [Float], box: Int) -> [[Float]] {
        precondition(volume.count == box * box * box, "SliceMontage: \(volume.count) voxels, box \(box)")
        let c = box / 2
        func section(_ voxel: (_ column: Int, _ up: Int) -> Int) -> [Float] {
            var values = [Float](repeating: 0, count: box * box)
            for row in 0..<box {
                for column in 0..<box { values[column + box * row] = volume[voxel(column, box - 1 - row)] }
            }
            return values
        }
        return [section { x, y in x + box * (y + box * c) },
                section { x, z in x + box * (c + box * z) },
                section { y, z in c + box * (y + box * z) }]
    }

    /// The montage of `volumes` (one row of three panels each), `3·box + 2·gap_px` wide and
    /// `n·box + (n − 1)·gap_px` high.
    public static func image(volumes: [[Float]], box: Int, range: DisplayRange = .meanSigma(3),
                             gap_px: Int = 2) -> GrayImage8 {
        precondition(!volumes.isEmpty && gap_px >= 0, "SliceMontage: \(volumes.count) volumes, gap \(gap_px)")
        let slices = volumes.map { centralSlices(of: $0, box: box) }
        let bounds = range.bounds(of: slices.joined().joined())
        var montage = GrayImage8(width: 3 * box + 2 * gap_px,
                                 height: volumes.count * box + (volumes.count - 1) * gap_px, value: 255)
        for (row, sections) in slices.enumerated() {
            for (column, values) in sections.enumerated() {
                montage.paste(GrayImage8(width: box, height: box, values: values, range: bounds),
                              x: column * (box + gap_px), row: row * (box + gap_px))
            }
        }
        return montage
    }

    /// Writes `image(volumes:box:range:gap_px:)` as a PNG file, atomically.
    public static func write(volumes: [[Float]], box: Int, range: DisplayRange = .meanSigma(3), gap_px: Int = 2,
                             to path: String) throws {
        try PNGWriter.write(image(volumes: volumes, box: box, range: range, gap_px: gap_px), to: path)
    }
}
