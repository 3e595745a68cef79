import DuetKernels
import Foundation

extension FSCReport {
    /// The FSC as a plain-text table that `numpy.loadtxt` reads (comments start with `#`):
    /// the `comments` lines, a column header, then one row per shell — shell index (Fourier pixels), resolution in
    /// Å (`inf` for shell 0), unmasked FSC and, with a mask, the phase-randomisation-corrected masked FSC — and
    /// last the resolutions at FSC 0.143 (`crossing(threshold:)`; "not reached" when the curve stays above to
    /// Nyquist, with the Nyquist resolution).
    public func textTable(comments: [String]) -> String {
        var lines = comments.map { "# " + $0 }
        lines.append("# shell  resolution_A  fsc_unmasked" + (masked == nil ? "" : "  fsc_masked_corrected"))
        for s in 0..<unmasked.shellCount {
            let resolution = s > 0 ? String(format: "%.4f", unmasked.resolution_A(shell: Double(s))) : "inf"
            var row = "\(s)  \(resolution)  " + String(format: "%.6f", unmasked.values[s])
            if let masked { row += String(format: "  %.6f", masked.corrected.values[s]) }
            lines.append(row)
        }
        lines.append("# resolution at FSC 0.143, unmasked: " + Self.describe(unmasked.crossing(threshold: 0.143)))
        if let masked {
            lines.append("# resolution at FSC 0.143, masked (phase-randomisation corrected): "
                         + Self.describe(masked.corrected.crossing(threshold: 0.143)))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func describe(_ crossing: FSCCrossing) -> String {
        crossing.crossed ? String(format: "%.3f A", crossing.resolution_A)
            : String(format: "not reached (above 0.143 to Nyquist, %.3f A)", crossing.resolution_A)
    }
}
