/// An 8-bit grayscale image: `pixels[x + width·row]`, row 0 at the top (the order PNG stores), 0 black, 255 white.
public struct GrayImage8: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    /// An image of `width × height` pixels all set to `value`.
    public init(width: Int, height: Int, value: UInt8 = 0) {
        precondition(width > 0 && height > 0, "GrayImage8: \(width)×\(height)")
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: value, count: width * height)
    }

    /// An image from `width · height` pixels, row 0 first.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0 && pixels.count == width * height,
                     "GrayImage8: \(pixels.count) pixels for \(width)×\(height)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// `values` (`width · height`, row 0 at the top) mapped linearly from `range` onto 0…255: `lower` → 0,
    /// `upper` → 255, rounded to the nearest level and clamped outside the range; NaN → 0. An empty range
    /// (`upper ≤ lower`, a flat image) gives mid-gray 128 everywhere.
    public init(width: Int, height: Int, values: [Float], range: (lower: Double, upper: Double)) {
        precondition(values.count == width * height, "GrayImage8: \(values.count) values for \(width)×\(height)")
        self.init(width: width, height: height, pixels: values.map { Self.level($0, range: range) })
    }

    /// The gray level of `value` in `range` (see `init(width:height:values:range:)`).
    public static func level(_ value: Float, range: (lower: Double, upper: Double)) -> UInt8 {
        guard range.upper > range.lower else { return 128 }
        guard !value.isNaN else { return 0 }
        let scaled = (Double(value) - range.lower) / (range.upper - range.lower) * 255
        return UInt8(min(max(scaled.rounded(), 0), 255))
    }

    /// Copies `image` into this one with its top-left pixel at (`x`, `row`); it must fit.
    public mutating func paste(_ image: GrayImage8, x: Int, row: Int) {
        precondition(x >= 0 && row >= 0 && x + image.width <= width && row + image.height <= height,
                     "GrayImage8.paste: \(image.width)×\(image.height) at (\(x), \(row)) in \(width)×\(height)")
        for r in 0..<image.height {
            let source = r * image.width, target = x + (row + r) * width
            pixels.replaceSubrange(target..<(target + image.width), with: image.pixels[source..<(source + image.width)])
        }
    }
}

/// Which values of a float image span black to white.
public enum DisplayRange: Sendable, Equatable {
    /// The image's minimum to its maximum (NaN ignored).
    case minMax
    /// Mean ± `k` standard deviations of the image (NaN ignored): `meanSigma(3)` is the usual view of a map,
    /// where a few bright voxels do not wash the rest out.
    case meanSigma(Double)
    /// A fixed interval.
    case fixed(lower: Double, upper: Double)

    /// The interval for `values`; an image with no finite value gives (0, 0).
    public func bounds<Values: Sequence>(of values: Values) -> (lower: Double, upper: Double)
    where Values.Element == Float {
        switch self {
        case .fixed(let lower, let upper):
            return (lower, upper)
        case .minMax:
            var lower = Double.infinity, upper = -Double.infinity
            for v in values where v.isFinite { lower = min(lower, Double(v)); upper = max(upper, Double(v)) }
            return lower <= upper ? (lower, upper) : (0, 0)
        case .meanSigma(let k):
            var sum = 0.0, sum2 = 0.0, count = 0.0
            for v in values where v.isFinite { sum += Double(v); sum2 += Double(v) * Double(v); count += 1 }
            guard count > 0 else { return (0, 0) }
            let mean = sum / count, sigma = max(0, sum2 / count - mean * mean).squareRoot()
            return (mean - k * sigma, mean + k * sigma)
        }
    }
}
