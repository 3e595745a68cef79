import CReferenceKernels
import DuetCore
import DuetKernels
import Foundation

/// `duet-bench`: slices projected and back-projected per second by Duet's Swift kernels (`FourierVolume.project`,
/// `BackProjector.insert`) and by a straightforward C reference of the same layout and algorithm (compiled with
/// `-O3 -march=native -ffp-contract=fast`), at box 128 and 256, padding 2, radius box/2, 1 thread and all
/// threads, in one run. Prints the Swift/C time ratio and checks that both give the same numbers.
///
/// Usage: `swift build -c release --product duet-bench && .build/release/duet-bench [--quick] [--box 128|256]`
@main
struct DuetBench {
    static func main() {
        let quick = CommandLine.arguments.contains("--quick")
        let threads = ProcessInfo.processInfo.activeProcessorCount
        print("duet-bench: \(threads) cores, padding 2, trilinear, no translation; best of 5 runs, Swift and C alternated;")
        print("1 thread: CPU time of the thread; \(threads) threads: wall clock (machine may be shared).")
        print("Fourier volume filled with random complex data (timing does not depend on the values).")
        var ok = true
        var sizes = quick ? [(64, 200)] : [(128, 2000), (256, 400)]
        if let i = CommandLine.arguments.firstIndex(of: "--box"), i + 1 < CommandLine.arguments.count,
           let box = Int(CommandLine.arguments[i + 1]) {
            sizes = sizes.filter { $0.0 == box }
        }
        for (box, count) in sizes {
            ok = run(box: box, count: count, threads: threads) && ok
        }
        print(ok ? "numerical agreement Swift vs C: PASS" : "numerical agreement Swift vs C: FAIL")
        exit(ok ? 0 : 1)
    }

    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    /// CPU time of the calling thread (stable on a shared machine; used for the 1-thread runs, which execute
    /// inline on this thread).
    static func threadCPUTime() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    /// Best times of `repeats` runs of the Swift and the C body, alternated (S, C, S, C, …) so that both see the
    /// same background load. One thread: CPU time of this thread; several: wall-clock time.
    static func compare(threads: Int, repeats: Int = 5, prepareSwift: () -> Void = {}, swift: () -> Void,
                        prepareC: () -> Void = {}, c: () -> Void) -> (swift: Double, c: Double) {
        let clock = threads == 1 ? threadCPUTime : now
        var bestSwift = Double.infinity, bestC = Double.infinity
        for _ in 0..<repeats {
            prepareSwift()
            var start = clock()
            swift()
            bestSwift = min(bestSwift, clock() - start)
            prepareC()
            start = clock()
            c()
            bestC = min(bestC, clock() - start)
        }
        return (bestSwift, bestC)
    }

    struct Generator {
        var state: UInt64
        mutating func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53)
        }
    }

    static func run(box: Int, count: Int, threads: Int) -> Bool {
        let grid = FourierGrid(box: box, paddingFactor: 2)
        let radius = box / 2
        let volume = FourierVolume(grid: grid)
        var g = Generator(state: 42)
        for i in 0..<grid.count { volume.data[i] = SIMD2(Float(g.next() - 0.5), Float(g.next() - 0.5)) }
        let rotations = (0..<count).map { _ in
            Rotation(relion: RelionEulerAngles(rot_deg: 360 * g.next(), tilt_deg: acos(2 * g.next() - 1) * 180 / .pi,
                                               psi_deg: 360 * g.next()))
        }
        let axes = rotations.map { r -> ([Float], [Float]) in
            let a = SIMD3<Float>(r.row0 * grid.scale), b = SIMD3<Float>(r.row1 * grid.scale)
            return ([a.x, a.y, a.z], [b.x, b.y, b.z])
        }
        let stride = grid.imageComplexCount
        let swiftSlices = AlignedBuffer<SIMD2<Float>>(count: stride * count)
        let cSlices = AlignedBuffer<SIMD2<Float>>(count: stride * count)
        var pixels = 0
        for y in -radius...radius {
            for x in 0...radius where x * x + y * y <= radius * radius { pixels += 1 }
        }
        print("\nbox \(box) (padded \(grid.paddedBox), stored \(grid.nx)×\(grid.ny)×\(grid.ny) = "
              + "\(grid.count * 8 / 1_000_000) MB complex), radius \(radius), \(pixels) Fourier pixels per slice, \(count) slices")
        print("                        Swift slices/s      C slices/s   Swift/C time")

        let h = Int32(grid.halfExtent), b = Int32(box), r = Int32(radius)
        nonisolated(unsafe) let cOut = cSlices.baseAddress
        nonisolated(unsafe) let volumePointer = volume.data.baseAddress
        @Sendable func cProject(_ range: Range<Int>) {
            for i in range {
                axes[i].0.withUnsafeBufferPointer { ax in
                    axes[i].1.withUnsafeBufferPointer { ay in
                        let out = UnsafeMutableRawPointer(cOut + i * stride).assumingMemoryBound(to: Float.self)
                        let v = UnsafeRawPointer(volumePointer).assumingMemoryBound(to: Float.self)
                        cref_extract_slice(v, h, b, r, ax.baseAddress, ay.baseAddress, out)
                    }
                }
            }
        }
        var ok = true
        for t in [1, threads] where t == 1 || threads > 1 {
            let (swiftTime, cTime) = compare(threads: t, swift: {
                volume.project(rotations: rotations, radius_px: radius, into: swiftSlices.baseAddress,
                               outputStride: stride, threads: t)
            }, c: {
                if t == 1 { cProject(0..<count) } else {
                    DispatchQueue.concurrentPerform(iterations: t) { w in cProject((w * count / t)..<((w + 1) * count / t)) }
                }
            })
            report("project  \(t) thread\(t > 1 ? "s" : " ")", count: count, swift: swiftTime, c: cTime)
        }
        let projectionError = relativeDifference(swiftSlices.baseAddress, cSlices.baseAddress, count: stride * count)
        print(String(format: "  projection agreement: max |Swift − C| / max |C| = %.2e", projectionError))
        // C contracts x·a + y·b into an FMA, Swift (no -march) does not: the sampling coordinates differ by up to an
        // ulp (3e-5 at padded radius 256), and on random, rough data that moves a value by ~1e-4 of the maximum.
        ok = ok && projectionError < 5e-4

        // Back-projection of the projected slices, with CTF²-like weights.
        let weights = AlignedBuffer<Float>(count: stride * count)
        for i in 0..<(stride * count) { weights[i] = Float(0.5 + g.next()) }
        let back = BackProjector(grid: grid)
        let cNumerators = (0..<threads).map { _ in AlignedBuffer<SIMD2<Float>>(count: grid.count) }
        let cWeights = (0..<threads).map { _ in AlignedBuffer<Float>(count: grid.count) }
        nonisolated(unsafe) let cn = cNumerators.map { UnsafeMutableRawPointer($0.baseAddress).assumingMemoryBound(to: Float.self) }
        nonisolated(unsafe) let cw = cWeights.map { $0.baseAddress }
        nonisolated(unsafe) let slicesIn = swiftSlices.baseAddress, weightsIn = weights.baseAddress
        @Sendable func cInsert(_ worker: Int, _ range: Range<Int>) {
            for i in range {
                axes[i].0.withUnsafeBufferPointer { ax in
                    axes[i].1.withUnsafeBufferPointer { ay in
                        let s = UnsafeRawPointer(slicesIn + i * stride).assumingMemoryBound(to: Float.self)
                        cref_insert_slice(cn[worker], cw[worker], h, b, r, ax.baseAddress, ay.baseAddress, s,
                                          weightsIn + i * stride)
                    }
                }
            }
        }
        let total = grid.count
        for t in [1, threads] where t == 1 || threads > 1 {
            let (swiftTime, cTime) = compare(threads: t, prepareSwift: { back.reset() }, swift: {
                back.insert(slices: swiftSlices.baseAddress, sliceStride: stride, sliceWeights: weights.baseAddress,
                            weightStride: stride, rotations: rotations, radius_px: radius, threads: t)
            }, prepareC: { cNumerators[0].zero(); cWeights[0].zero() }, c: {
                if t == 1 { cInsert(0, 0..<count) } else {
                    DispatchQueue.concurrentPerform(iterations: t) { w in cInsert(w, (w * count / t)..<((w + 1) * count / t)) }
                    // Sum the workers' accumulators into worker 0's, in parallel over chunks (as Duet does).
                    let chunks = t
                    DispatchQueue.concurrentPerform(iterations: chunks) { c in
                        let lo = c * total / chunks, hi = (c + 1) * total / chunks
                        for k in 1..<t {
                            cref_accumulate(cn[0] + 2 * lo, cw[0] + lo, cn[k] + 2 * lo, cw[k] + lo, hi - lo)
                        }
                    }
                }
            })
            report("insert   \(t) thread\(t > 1 ? "s" : " ")", count: count, swift: swiftTime, c: cTime)
        }
        let numeratorError = relativeDifference(back.numerator.baseAddress, cNumerators[0].baseAddress, count: total)
        var weightDiff: Float = 0, weightMax: Float = 0
        for i in 0..<total {
            weightDiff = max(weightDiff, abs(back.weight[i] - cWeights[0][i]))
            weightMax = max(weightMax, abs(cWeights[0][i]))
        }
        print(String(format: "  back-projection agreement: numerator %.2e, weight %.2e (max |Swift − C| / max |C|)",
                     numeratorError, weightDiff / weightMax))
        ok = ok && numeratorError < 1e-4 && weightDiff / weightMax < 1e-4
        withExtendedLifetime((volume, swiftSlices, cSlices, weights, cNumerators, cWeights)) {}
        return ok
    }

    static func report(_ label: String, count: Int, swift: Double, c: Double) {
        print(String(format: "  %@   %12.0f   %12.0f   %8.2f", label.padding(toLength: 18, withPad: " ", startingAt: 0),
                     Double(count) / swift, Double(count) / c, swift / c))
    }

    static func relativeDifference(_ a: UnsafePointer<SIMD2<Float>>, _ b: UnsafePointer<SIMD2<Float>>, count: Int) -> Double {
        var diff: Float = 0, scale: Float = 0
        for i in 0..<count {
            let d = a[i] - b[i]
            diff = max(diff, abs(d.x), abs(d.y))
            scale = max(scale, abs(b[i].x), abs(b[i].y))
        }
        return Double(diff / max(scale, .leastNormalMagnitude))
    }
}
