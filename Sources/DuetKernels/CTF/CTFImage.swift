import Foundation

extension RelionCTF {
    /// Writes the CTF of this image on `grid`'s FFTW half plane into `output` (`grid.count` elements, layout as
    /// documented on `CTFFrequencyGrid`). No heap allocation; the B-factor envelope `exp(K4 u²)` is factored into a
    /// row and a column term.
    public func evaluate(on grid: CTFFrequencyGrid, into output: UnsafeMutableBufferPointer<Float>,
                         output kind: CTFOutput = .value) {
        fill(grid: grid, output: output, kind: kind)
    }

    /// Double-precision variant of `evaluate(on:into:output:)`.
    public func evaluate(on grid: CTFFrequencyGrid, into output: UnsafeMutableBufferPointer<Double>,
                         output kind: CTFOutput = .value) {
        fill(grid: grid, output: output, kind: kind)
    }

    /// Convenience: a new array holding the CTF on `grid` (allocates; use `evaluate(on:into:)` in loops).
    public func image(on grid: CTFFrequencyGrid, output kind: CTFOutput = .value) -> [Float] {
        [Float](unsafeUninitializedCapacity: grid.count) { buffer, initialized in
            fill(grid: grid, output: buffer, kind: kind)
            initialized = grid.count
        }
    }

    @inline(__always)
    private func fill<T: BinaryFloatingPoint>(grid: CTFFrequencyGrid, output: UnsafeMutableBufferPointer<T>,
                                              kind: CTFOutput) {
        precondition(output.count >= grid.count, "RelionCTF.evaluate: output holds \(output.count) < \(grid.count)")
        let width = grid.halfWidth
        let scale = parameters.scale
        let damped = k4 != 0
        grid.columnFrequency.withUnsafeBufferPointer { xs in
        grid.rowFrequency.withUnsafeBufferPointer { ys in
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 3 * width) { scratch in
            guard let base = output.baseAddress, let s = scratch.baseAddress else { return }
            // Per column: x², K1·Axx·x², envelope exp(K4 x²).
            let colX2 = s, colA = s + width, colE = s + 2 * width
            for j in 0..<width {
                let x = xs[j]
                colX2[j] = x * x
                colA[j] = k1 * axx * x * x
                colE[j] = damped ? exp(k4 * x * x) : 1
            }
            for i in 0..<grid.ny {
                let y = ys[i]
                let y2 = y * y
                let rowB = 2 * k1 * axy * y
                let rowC = k1 * ayy * y2 - k5 - k3
                let rowE = (damped ? exp(k4 * y2) : 1) * scale
                let out = base + i * width
                for j in 0..<width {
                    let u2 = colX2[j] + y2
                    let gamma = colA[j] + rowB * xs[j] + rowC + k2 * u2 * u2
                    let v = -sin(gamma) * colE[j] * rowE
                    switch kind {
                    case .value: out[j] = T(v)
                    case .squared: out[j] = T(v * v)
                    case .absolute: out[j] = T(abs(v))
                    }
                }
            }
        }
        }
        }
    }
}
