// Float dot products of the pose search (`PosePosteriorKernel`): each accumulates in the same `SIMD16<Float>` lanes
// and is reduced in Double in the same order, so a value never depends on which routine computed it.

/// `Σ a[e]·b[e]` over `count` floats (a multiple of 32), in 2 × 16 Float lanes, reduced in Double in a fixed order.
@inline(__always)
func dotProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Double {
    var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    var offset = 0
    let bytes = 4 * count
    while offset < bytes {
        acc0 += ra.loadUnaligned(fromByteOffset: offset, as: SIMD16<Float>.self)
            * rb.loadUnaligned(fromByteOffset: offset, as: SIMD16<Float>.self)
        acc1 += ra.loadUnaligned(fromByteOffset: offset + 64, as: SIMD16<Float>.self)
            * rb.loadUnaligned(fromByteOffset: offset + 64, as: SIMD16<Float>.self)
        offset += 128
    }
    var s = 0.0
    for l in 0..<16 { s += Double(acc0[l]) + Double(acc1[l]) }
    return s
}

/// The eight dot products `a_s · b_r` (`s` < 4, `r` < 2) over `count` floats (a multiple of 32) into
/// `out[r · rowStride + s]`, each bit-identical to `dotProduct(a_s, b_r, count:)`: one pass loads each vector once
/// for two or four products (16 accumulators fit the AVX-512 register file; the one-product loop is load-bound).
@inline(__always)
func dotProducts4x2(_ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ a2: UnsafePointer<Float>,
                    _ a3: UnsafePointer<Float>, _ b0: UnsafePointer<Float>, _ b1: UnsafePointer<Float>, count: Int,
                    into out: UnsafeMutablePointer<Double>, rowStride: Int) {
    typealias V = SIMD16<Float>
    // acc<s><r><half>: product a_s · b_r, lanes of the first or second 16 floats of each 32.
    var acc000 = V(), acc001 = V(), acc010 = V(), acc011 = V()
    var acc100 = V(), acc101 = V(), acc110 = V(), acc111 = V()
    var acc200 = V(), acc201 = V(), acc210 = V(), acc211 = V()
    var acc300 = V(), acc301 = V(), acc310 = V(), acc311 = V()
    let ra0 = UnsafeRawPointer(a0), ra1 = UnsafeRawPointer(a1), ra2 = UnsafeRawPointer(a2), ra3 = UnsafeRawPointer(a3)
    let rb0 = UnsafeRawPointer(b0), rb1 = UnsafeRawPointer(b1)
    var offset = 0
    let bytes = 4 * count
    while offset < bytes {
        let b00 = rb0.loadUnaligned(fromByteOffset: offset, as: V.self)
        let b01 = rb0.loadUnaligned(fromByteOffset: offset + 64, as: V.self)
        let b10 = rb1.loadUnaligned(fromByteOffset: offset, as: V.self)
        let b11 = rb1.loadUnaligned(fromByteOffset: offset + 64, as: V.self)
        var x0 = ra0.loadUnaligned(fromByteOffset: offset, as: V.self)
        var x1 = ra0.loadUnaligned(fromByteOffset: offset + 64, as: V.self)
        acc000 += x0 * b00; acc001 += x1 * b01; acc010 += x0 * b10; acc011 += x1 * b11
        x0 = ra1.loadUnaligned(fromByteOffset: offset, as: V.self)
        x1 = ra1.loadUnaligned(fromByteOffset: offset + 64, as: V.self)
        acc100 += x0 * b00; acc101 += x1 * b01; acc110 += x0 * b10; acc111 += x1 * b11
        x0 = ra2.loadUnaligned(fromByteOffset: offset, as: V.self)
        x1 = ra2.loadUnaligned(fromByteOffset: offset + 64, as: V.self)
        acc200 += x0 * b00; acc201 += x1 * b01; acc210 += x0 * b10; acc211 += x1 * b11
        x0 = ra3.loadUnaligned(fromByteOffset: offset, as: V.self)
        x1 = ra3.loadUnaligned(fromByteOffset: offset + 64, as: V.self)
        acc300 += x0 * b00; acc301 += x1 * b01; acc310 += x0 * b10; acc311 += x1 * b11
        offset += 128
    }
    // Each product's lane pairs `Double(first[l]) + Double(second[l])` (as in `dotProduct`), as rows of eight lanes;
    // the rows are transposed into columns so that one vector sum over `l`, in order, reduces all eight products.
    @inline(__always) func pairs(_ first: V, _ second: V) -> (SIMD8<Double>, SIMD8<Double>) {
        (SIMD8<Double>(first.lowHalf) + SIMD8<Double>(second.lowHalf),
         SIMD8<Double>(first.highHalf) + SIMD8<Double>(second.highHalf))
    }
    let (p0, q0) = pairs(acc000, acc001), (p1, q1) = pairs(acc100, acc101)
    let (p2, q2) = pairs(acc200, acc201), (p3, q3) = pairs(acc300, acc301)
    let (p4, q4) = pairs(acc010, acc011), (p5, q5) = pairs(acc110, acc111)
    let (p6, q6) = pairs(acc210, acc211), (p7, q7) = pairs(acc310, acc311)
    var sums = SIMD8<Double>()
    addColumns(p0, p1, p2, p3, p4, p5, p6, p7, to: &sums)
    addColumns(q0, q1, q2, q3, q4, q5, q6, q7, to: &sums)
    for s in 0..<4 {
        out[s] = sums[s]
        out[rowStride + s] = sums[4 + s]
    }
}

/// `sums += column l` for `l = 0, 1, …, 7` in order, where column `l` holds lane `l` of rows `r0 … r7`: an 8 × 8
/// transpose by three rounds of even/odd lane splits (one two-register permute each on AVX-512).
@inline(__always)
private func addColumns(_ r0: SIMD8<Double>, _ r1: SIMD8<Double>, _ r2: SIMD8<Double>, _ r3: SIMD8<Double>,
                        _ r4: SIMD8<Double>, _ r5: SIMD8<Double>, _ r6: SIMD8<Double>, _ r7: SIMD8<Double>,
                        to sums: inout SIMD8<Double>) {
    @inline(__always) func even(_ a: SIMD8<Double>, _ b: SIMD8<Double>) -> SIMD8<Double> {
        SIMD16(lowHalf: a, highHalf: b).evenHalf
    }
    @inline(__always) func odd(_ a: SIMD8<Double>, _ b: SIMD8<Double>) -> SIMD8<Double> {
        SIMD16(lowHalf: a, highHalf: b).oddHalf
    }
    // Round 1: lanes {0,2,4,6} (e) and {1,3,5,7} (o) of each pair of rows.
    let e01 = even(r0, r1), o01 = odd(r0, r1), e23 = even(r2, r3), o23 = odd(r2, r3)
    let e45 = even(r4, r5), o45 = odd(r4, r5), e67 = even(r6, r7), o67 = odd(r6, r7)
    // Round 2: lanes {0,4}, {2,6}, {1,5}, {3,7} of rows 0–3 and of rows 4–7.
    let l04a = even(e01, e23), l26a = odd(e01, e23), l15a = even(o01, o23), l37a = odd(o01, o23)
    let l04b = even(e45, e67), l26b = odd(e45, e67), l15b = even(o45, o67), l37b = odd(o45, o67)
    // Round 3: single lanes of all eight rows.
    sums += even(l04a, l04b)
    sums += even(l15a, l15b)
    sums += even(l26a, l26b)
    sums += even(l37a, l37b)
    sums += odd(l04a, l04b)
    sums += odd(l15a, l15b)
    sums += odd(l26a, l26b)
    sums += odd(l37a, l37b)
}
