import CFFTW

/// A fixed-size, FFTW-aligned block of memory holding `count` elements of a trivial type (`Float`, `Double`,
/// `SIMD2<Float>` complex, …), allocated with `fftw_malloc` and zero-filled.
///
/// It is a *class* on purpose: copying a reference never copies the data and there is no copy-on-write, so a
/// pointer taken from `baseAddress` stays valid and refers to the same memory for the whole life of the buffer.
/// Keep the buffer alive (e.g. with `withExtendedLifetime`) for as long as raw pointers to it are used.
///
/// Thread-safety: marked `@unchecked Sendable` so that workers can share it; concurrent writers must write
/// disjoint elements (as every kernel in this module does).
public final class AlignedBuffer<Element>: @unchecked Sendable {
    /// Number of elements.
    public let count: Int
    /// First element; aligned for FFTW's SIMD code (at least 16 bytes, `fftw_malloc`).
    public let baseAddress: UnsafeMutablePointer<Element>

    /// Allocates `count` elements, all bytes zero.
    public init(count: Int) {
        precondition(count >= 0, "AlignedBuffer: negative count \(count)")
        precondition(_isPOD(Element.self), "AlignedBuffer holds trivial types only (no references)")
        self.count = count
        let bytes = max(1, count * MemoryLayout<Element>.stride)
        guard let raw = fftw_malloc(bytes) else { fatalError("AlignedBuffer: fftw_malloc(\(bytes)) failed") }
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        baseAddress = raw.bindMemory(to: Element.self, capacity: max(count, 1))
    }

    /// Allocates and copies `values`.
    public convenience init(_ values: [Element]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { source in
            if let s = source.baseAddress { baseAddress.update(from: s, count: values.count) }
        }
    }

    deinit { fftw_free(baseAddress) }

    /// The elements as a buffer pointer (valid while `self` is alive).
    public var buffer: UnsafeMutableBufferPointer<Element> { UnsafeMutableBufferPointer(start: baseAddress, count: count) }

    /// Element `index` (checked only in debug builds).
    @inlinable public subscript(index: Int) -> Element {
        get { assert(index >= 0 && index < count); return baseAddress[index] }
        set { assert(index >= 0 && index < count); baseAddress[index] = newValue }
    }

    /// Sets every byte to zero.
    public func zero() {
        UnsafeMutableRawPointer(baseAddress).initializeMemory(as: UInt8.self, repeating: 0,
                                                              count: count * MemoryLayout<Element>.stride)
    }

    /// Copies the elements into a new array.
    public func toArray() -> [Element] { Array(buffer) }
}
