import DuetCore
import DuetFormats
import DuetKernels
import Foundation

/// The outputs of an FSC between two maps: a RELION-style STAR table (`data_fsc`, one row per shell), an SVG plot
/// and a summary of the resolutions at FSC 0.143 and 0.5. Shell `s` has spatial frequency `s/(box·pixel)` 1/Å.
public struct FSCReport: Sendable {
    public let unmasked: FSCCurve
    public let masked: MaskedFSCResult?

    public init(unmasked: FSCCurve, masked: MaskedFSCResult?) {
        self.unmasked = unmasked
        self.masked = masked
    }

    /// The curve resolutions are quoted from: the corrected masked one when there is a mask.
    public var headline: FSCCurve { masked?.corrected ?? unmasked }

    /// Lines like `unmasked FSC: 0.143 at 7.51 Å, 0.5 at 11.07 Å`.
    public var summary: String {
        var lines = [line("unmasked", unmasked)]
        if let masked {
            lines.append(line("masked", masked.masked))
            lines.append(line("masked, phase-randomisation corrected", masked.corrected))
        }
        return lines.joined(separator: "\n")
    }

    private func line(_ label: String, _ curve: FSCCurve) -> String {
        func at(_ threshold: Double) -> String {
            let crossing = curve.crossing(threshold: threshold)
            return crossing.crossed ? String(format: "%.2f Å", crossing.resolution_A)
                : String(format: "beyond Nyquist (%.2f Å)", crossing.resolution_A)
        }
        return "\(label) FSC: 0.143 at \(at(0.143)), 0.5 at \(at(0.5))"
    }

    /// `data_fsc` with RELION's column names.
    public func starDocument() throws -> StarDocument {
        let shells = 0..<unmasked.shellCount
        let frequency = shells.map { Double($0) / (Double(unmasked.box) * unmasked.pixelSize_A) }
        var table = StarTable(columnNames: [])
        try table.setColumn("rlnSpectralIndex", to: shells.map(String.init))
        try table.setColumn("rlnResolution", to: frequency.map { String(format: "%.6f", $0) })
        try table.setColumn("rlnAngstromResolution", to: frequency.map { $0 > 0 ? String(format: "%.4f", 1 / $0) : "inf" })
        func put(_ name: String, _ curve: FSCCurve) throws {
            try table.setColumn(name, to: curve.values.map { String(format: "%.6f", $0) })
        }
        try put("rlnFourierShellCorrelationUnmaskedMaps", unmasked)
        if let masked {
            try put("rlnFourierShellCorrelationMaskedMaps", masked.masked)
            try put("rlnCorrectedFourierShellCorrelationPhaseRandomizedMaskedMaps", masked.phaseRandomizedMasked)
            try put("rlnFourierShellCorrelationCorrected", masked.corrected)
        }
        var general = StarBlock(name: "general")
        general.setValue(String(format: "%.4f", headline.resolution_A(threshold: 0.143)), forKey: "rlnFinalResolution")
        return StarDocument(blocks: [general, StarBlock(name: "fsc", table: table)])
    }

    /// Writes `<prefix>.star` (`starDocument()`) and `<prefix>.svg` (`plot(title:)`), each atomically.
    public func write(prefix: String, title: String) throws {
        try StarWriter.write(starDocument(), to: prefix + ".star")
        try AtomicFile.write(plot(title: title).render(), to: prefix + ".svg")
    }

    /// FSC against spatial frequency, with the 0.143 and 0.5 thresholds, ticks labelled in Å.
    public func plot(title: String) -> LinePlotSVG {
        let nyquist = 1 / (2 * unmasked.pixelSize_A)
        var plot = LinePlotSVG(title: title, xLabel: "resolution (Å)", yLabel: "Fourier shell correlation",
                               xRange: 0...nyquist, yRange: -0.1...1.05)
        plot.xTickLabel = { $0 > 0 ? String(format: "%.3g", 1 / $0) : "∞" }
        func points(_ curve: FSCCurve) -> [(x: Double, y: Double)] {
            curve.values.enumerated().map { (Double($0.offset) / (Double(curve.box) * curve.pixelSize_A), $0.element) }
        }
        plot.curves.append(.init(label: "unmasked", colour: "#1f77b4", points: points(unmasked)))
        if let masked {
            plot.curves.append(.init(label: "masked", colour: "#2ca02c", points: points(masked.masked)))
            plot.curves.append(.init(label: "phase-randomised", colour: "#d62728", points: points(masked.phaseRandomizedMasked)))
            plot.curves.append(.init(label: "corrected", colour: "#000000", points: points(masked.corrected)))
        }
        plot.referenceLines = [.init(y: 0.143, label: "0.143"), .init(y: 0.5, label: "0.5")]
        return plot
    }
}
