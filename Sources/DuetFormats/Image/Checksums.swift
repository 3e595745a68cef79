/// The two checksums a PNG file carries: CRC-32 on every chunk and Adler-32 at the end of the zlib stream.
public enum Checksums {
    /// CRC-32 as PNG, zlib and gzip define it (ISO 3309 / ITU-T V.42: reflected polynomial `0xEDB88320`, initial
    /// value and final XOR `0xFFFFFFFF`); `crc32("123456789") == 0xCBF43926`. Pass the previous result as `crc`
    /// to continue over several pieces.
    public static func crc32<Bytes: Sequence>(_ bytes: Bytes, continuing crc: UInt32 = 0) -> UInt32
    where Bytes.Element == UInt8 {
        var c = ~crc
        for byte in bytes { c = crcTable[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        return ~c
    }

    /// Adler-32 as RFC 1950 defines it (sums modulo 65521, `b << 16 | a`, starting at a = 1, b = 0);
    /// `adler32("Wikipedia") == 0x11E60398`.
    public static func adler32<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        let modulus: UInt32 = 65521
        var a: UInt32 = 1, b: UInt32 = 0
        var pending = 0
        for byte in bytes {
            a += UInt32(byte)
            b += a
            pending += 1
            // 5552 bytes is the most that keeps b below 2³² before the reduction (zlib's NMAX).
            if pending == 5552 { a %= modulus; b %= modulus; pending = 0 }
        }
        return ((b % modulus) << 16) | (a % modulus)
    }

    /// The byte-at-a-time table of the reflected CRC-32 polynomial.
    private static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }
}
