extension RealFFT {
    /// Forward transform of an array whose origin is at index `shape/2`, giving coefficients about that origin
    /// (`forward` followed by `FourierCentring.centre`). Unnormalised, as `forward`.
    public func forwardCentred(_ input: UnsafePointer<T>, _ output: UnsafeMutablePointer<SIMD2<T>>) {
        forward(input, output)
        FourierCentring.centre(output, shape: shape)
    }

    /// Inverse of `forwardCentred` (`FourierCentring.decentre` then `inverse`, divided by `realCount`): the result
    /// has its origin at index `shape/2`. **Overwrites `input`.**
    public func inverseCentred(_ input: UnsafeMutablePointer<SIMD2<T>>, _ output: UnsafeMutablePointer<T>) {
        FourierCentring.decentre(input, shape: shape)
        inverse(input, output)
    }

    /// Convenience: `forwardCentred` of an array of `realCount` values.
    public func forwardCentred(_ input: [T]) -> [SIMD2<T>] {
        var out = forward(input)
        out.withUnsafeMutableBufferPointer { FourierCentring.centre($0.baseAddress!, shape: shape) }
        return out
    }

    /// Convenience: `inverseCentred` of an array of `complexCount` values (the array is not modified).
    public func inverseCentred(_ input: [SIMD2<T>]) -> [T] {
        var copy = input
        copy.withUnsafeMutableBufferPointer { FourierCentring.decentre($0.baseAddress!, shape: shape) }
        return inverse(copy)
    }
}
