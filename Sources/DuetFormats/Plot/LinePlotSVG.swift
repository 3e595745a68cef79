import Foundation

/// A line plot rendered as a standalone SVG document that a browser or image viewer shows: curves over a shared
/// x axis, optional horizontal reference lines (e.g. FSC thresholds), axis ticks and a legend. Axis ranges are
/// given by the caller; points outside are clipped.
public struct LinePlotSVG: Sendable {
    /// One curve: its label in the legend, colour (any SVG colour), and points (x, y).
    public struct Curve: Sendable {
        public var label: String
        public var colour: String
        public var points: [(x: Double, y: Double)]

        public init(label: String, colour: String, points: [(x: Double, y: Double)]) {
            self.label = label
            self.colour = colour
            self.points = points
        }
    }

    /// A dashed horizontal line at `y` with a label at its right end.
    public struct ReferenceLine: Sendable {
        public var y: Double
        public var label: String

        public init(y: Double, label: String) {
            self.y = y
            self.label = label
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var xRange: ClosedRange<Double>
    public var yRange: ClosedRange<Double>
    public var curves: [Curve] = []
    public var referenceLines: [ReferenceLine] = []
    /// Text for an x tick value (e.g. spatial frequency shown as a resolution in Å).
    public var xTickLabel: @Sendable (Double) -> String = { String(format: "%.3g", $0) }

    public init(title: String, xLabel: String, yLabel: String, xRange: ClosedRange<Double>, yRange: ClosedRange<Double>) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.xRange = xRange
        self.yRange = yRange
    }

    private let width = 720.0, height = 480.0
    private let left = 70.0, right = 30.0, top = 40.0, bottom = 60.0

    private func px(_ x: Double) -> Double {
        left + (x - xRange.lowerBound) / (xRange.upperBound - xRange.lowerBound) * (width - left - right)
    }

    private func py(_ y: Double) -> Double {
        height - bottom - (y - yRange.lowerBound) / (yRange.upperBound - yRange.lowerBound) * (height - top - bottom)
    }

    /// The SVG document.
    public func render() -> String {
        var s = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
            viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="13">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(width / 2)" y="24" text-anchor="middle" font-size="16">\(escape(title))</text>
            <defs><clipPath id="plot"><rect x="\(left)" y="\(top)" width="\(width - left - right)" \
            height="\(height - top - bottom)"/></clipPath></defs>

            """
        for i in 0...5 {
            let x = xRange.lowerBound + Double(i) / 5 * (xRange.upperBound - xRange.lowerBound)
            s += line(px(x), top, px(x), height - bottom, "#e5e5e5")
            s += "<text x=\"\(px(x))\" y=\"\(height - bottom + 18)\" text-anchor=\"middle\">\(escape(xTickLabel(x)))</text>\n"
        }
        for y in Self.niceTicks(yRange) {
            s += line(left, py(y), width - right, py(y), "#e5e5e5")
            s += "<text x=\"\(left - 8)\" y=\"\(py(y) + 4)\" text-anchor=\"end\">\(String(format: "%g", y))</text>\n"
        }
        s += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(width - left - right)\" height=\"\(height - top - bottom)\" fill=\"none\" stroke=\"black\"/>\n"
        s += "<text x=\"\((left + width - right) / 2)\" y=\"\(height - 16)\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        s += "<text transform=\"translate(18 \((top + height - bottom) / 2)) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))</text>\n"
        for reference in referenceLines where yRange.contains(reference.y) {
            s += "<line x1=\"\(left)\" y1=\"\(py(reference.y))\" x2=\"\(width - right)\" y2=\"\(py(reference.y))\" "
                + "stroke=\"#888\" stroke-dasharray=\"6 4\"/>\n"
            s += "<text x=\"\(width - right - 4)\" y=\"\(py(reference.y) - 4)\" text-anchor=\"end\" fill=\"#555\">\(escape(reference.label))</text>\n"
        }
        for curve in curves where !curve.points.isEmpty {
            let path = curve.points.map { String(format: "%.2f,%.2f", px($0.x), py($0.y)) }.joined(separator: " ")
            s += "<polyline clip-path=\"url(#plot)\" fill=\"none\" stroke=\"\(curve.colour)\" stroke-width=\"2\" points=\"\(path)\"/>\n"
        }
        for (i, curve) in curves.enumerated() {
            let y = top + 16 + Double(i) * 18
            s += line(width - right - 170, y - 4, width - right - 145, y - 4, curve.colour, widthPx: 3)
            s += "<text x=\"\(width - right - 140)\" y=\"\(y)\">\(escape(curve.label))</text>\n"
        }
        return s + "</svg>\n"
    }

    /// Tick values at multiples of 1, 2 or 5 × 10ᵏ, about five across the range.
    static func niceTicks(_ range: ClosedRange<Double>) -> [Double] {
        let span = range.upperBound - range.lowerBound
        guard span > 0 else { return [range.lowerBound] }
        let magnitude = pow(10, (log10(span / 5)).rounded(.down))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { span / $0 <= 6 } ?? 10 * magnitude
        let first = (range.lowerBound / step).rounded(.up)
        // Rounded to 1e-9 so 0.6000000001 prints as 0.6; `+ 0` turns -0 into 0.
        return stride(from: first, through: range.upperBound / step + 1e-9, by: 1).map { ($0 * step * 1e9).rounded() / 1e9 + 0 }
    }

    private func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, _ colour: String, widthPx: Double = 1) -> String {
        "<line x1=\"\(x1)\" y1=\"\(y1)\" x2=\"\(x2)\" y2=\"\(y2)\" stroke=\"\(colour)\" stroke-width=\"\(widthPx)\"/>\n"
    }

    private func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}
