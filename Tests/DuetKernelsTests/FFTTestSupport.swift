import DuetCore
import DuetKernels
import DuetTestSupport
import Foundation
import XCTest

/// Helpers shared by the FFT and projection tests.
enum KernelTestSupport {
    /// Deterministic pseudo-random numbers in [−1, 1).
    struct Random {
        var generator: SeededGenerator
        init(seed: UInt64) { generator = SeededGenerator(seed: seed) }
        mutating func next() -> Double { generator.nextUnit() * 2 - 1 }
        mutating func floats(_ n: Int) -> [Float] { (0..<n).map { _ in Float(next()) } }
        mutating func complexes(_ n: Int) -> [SIMD2<Float>] { (0..<n).map { _ in SIMD2(Float(next()), Float(next())) } }
    }

    /// Runs a Python 3 snippet with NumPy and returns what it prints; a missing NumPy or a failing snippet throws.
    static func python(_ code: String) throws -> String {
        try CommandRunner.pythonOutput(["-c", code], needs: "python3 with numpy (pip install numpy)").stdout
    }

    static func write<T>(_ values: [T], to url: URL) throws {
        try values.withUnsafeBytes { try Data($0).write(to: url) }
    }

    static func read<T>(_ type: T.Type, count: Int, from url: URL) throws -> [T] {
        let data = try Data(contentsOf: url)
        precondition(data.count == count * MemoryLayout<T>.stride, "read \(data.count) bytes from \(url.path)")
        return data.withUnsafeBytes { Array($0.bindMemory(to: T.self)) }
    }

    /// The projection image (line integral along the beam) of a centred half-plane spectrum.
    static func image(fromSpectrum spectrum: [SIMD2<Float>], box: Int) -> [Float] {
        RealFFT<Float>(imageWidth: box, height: box).inverseCentred(spectrum)
    }

    /// A smooth test volume: Gaussian blobs (centre in voxels relative to box/2, σ in voxels, amplitude).
    struct Blob { var centre: SIMD3<Double>; var sigma: Double; var amplitude: Double }

    static func blobVolume(box: Int, blobs: [Blob]) -> [Float] {
        var v = [Float](repeating: 0, count: box * box * box)
        let c = Double(box / 2)
        for z in 0..<box {
            for y in 0..<box {
                for x in 0..<box {
                    let r = SIMD3(Double(x) - c, Double(y) - c, Double(z) - c)
                    var s = 0.0
                    for b in blobs {
                        let d = r - b.centre
                        s += b.amplitude * exp(-(d * d).sum() / (2 * b.sigma * b.sigma))
                    }
                    v[x + box * (y + box * z)] = Float(s)
                }
            }
        }
        return v
    }

    /// The exact line-integral projection of the blobs along the beam for `rotation` (RELION: view coordinates
    /// `A · r_map`, integrate over view z), sampled on the image grid, origin at box/2.
    static func blobProjection(box: Int, blobs: [Blob], rotation: Rotation) -> [Float] {
        var image = [Float](repeating: 0, count: box * box)
        let c = Double(box / 2)
        for b in blobs {
            let v = rotation * b.centre
            let a = b.amplitude * (2 * Double.pi).squareRoot() * b.sigma
            for y in 0..<box {
                for x in 0..<box {
                    let dx = Double(x) - c - v.x, dy = Double(y) - c - v.y
                    image[x + box * y] += Float(a * exp(-(dx * dx + dy * dy) / (2 * b.sigma * b.sigma)))
                }
            }
        }
        return image
    }

    static let testBlobs: [Blob] = [
        Blob(centre: [6, -3, 2], sigma: 3.0, amplitude: 1.0),
        Blob(centre: [-8, 5, -4], sigma: 2.5, amplitude: 0.7),
        Blob(centre: [2, 9, 7], sigma: 2.0, amplitude: 0.5),
        Blob(centre: [-3, -9, 8], sigma: 3.5, amplitude: 0.8),
    ]
}
