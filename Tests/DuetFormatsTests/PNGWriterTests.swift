import DuetCore
import DuetFormats
import DuetTestSupport
import Foundation
import XCTest

/// `PNGWriter`, `GrayImage8`, `DisplayRange` and `SliceMontage`. Written files are decoded by an independent
/// Python decoder (standard library only: `struct` for the chunks, `zlib.crc32` for every chunk CRC,
/// `zlib.decompress` for IDAT, which checks the Adler-32, and the five PNG row filters undone by hand), and by PIL
/// as well when it is installed.
final class PNGWriterTests: XCTestCase {
    /// Prints {"width", "height", "depth", "colour", "interlace", "chunks", "pixels" (hex, row 0 first),
    /// "pil": "absent" or the hex of PIL's pixels}.
    private static let decoder = #"""
        import json, struct, sys, zlib
        data = open(sys.argv[1], 'rb').read()
        assert data[:8] == b'\x89PNG\r\n\x1a\n', 'bad signature'
        pos, chunks = 8, []
        while pos < len(data):
            length, kind = struct.unpack('>I4s', data[pos:pos + 8])
            body = data[pos + 8:pos + 8 + length]
            crc, = struct.unpack('>I', data[pos + 8 + length:pos + 12 + length])
            assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, 'CRC mismatch in ' + kind.decode()
            chunks.append((kind.decode(), body))
            pos += 12 + length
        assert pos == len(data), 'trailing bytes'
        width, height, depth, colour, compression, filtering, interlace = struct.unpack('>IIBBBBB', chunks[0][1])
        raw = zlib.decompress(b''.join(body for kind, body in chunks if kind == 'IDAT'))
        assert len(raw) == height * (width + 1), (len(raw), width, height)
        pixels, previous = bytearray(), bytearray(width)
        for r in range(height):
            kind, line = raw[r * (width + 1)], bytearray(raw[r * (width + 1) + 1:(r + 1) * (width + 1)])
            for x in range(width):
                a = line[x - 1] if x > 0 else 0
                b = previous[x]
                c = previous[x - 1] if x > 0 else 0
                if kind == 1: line[x] = (line[x] + a) & 255
                elif kind == 2: line[x] = (line[x] + b) & 255
                elif kind == 3: line[x] = (line[x] + (a + b) // 2) & 255
                elif kind == 4:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
                else: assert kind == 0, 'unknown filter %d' % kind
            pixels += line
            previous = line
        try:
            from PIL import Image
            image = Image.open(sys.argv[1])
            image.load()
            assert image.mode == 'L' and image.size == (width, height), (image.mode, image.size)
            pil = bytes(image.tobytes()).hex()
        except ImportError:
            pil = 'absent'
        print(json.dumps({'width': width, 'height': height, 'depth': depth, 'colour': colour,
                          'interlace': interlace, 'chunks': [kind for kind, body in chunks],
                          'pixels': bytes(pixels).hex(), 'pil': pil}))
        """#

    private static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// Decodes `path` in Python and checks it holds exactly `image`.
    private func assertPythonDecodes(_ path: String, as image: GrayImage8, file: StaticString = #filePath,
                                     line: UInt = #line) throws {
        let decoded = try CommandRunner.pythonJSONObject(["-c", Self.decoder, path], needs: "python3 (standard library)")
        XCTAssertEqual(decoded["width"] as? Int, image.width, file: file, line: line)
        XCTAssertEqual(decoded["height"] as? Int, image.height, file: file, line: line)
        XCTAssertEqual(decoded["depth"] as? Int, 8, file: file, line: line)
        XCTAssertEqual(decoded["colour"] as? Int, 0, file: file, line: line)
        XCTAssertEqual(decoded["interlace"] as? Int, 0, file: file, line: line)
        XCTAssertEqual(decoded["chunks"] as? [String], ["IHDR", "IDAT", "IEND"], file: file, line: line)
        XCTAssertEqual(decoded["pixels"] as? String, Self.hex(image.pixels), "pixels", file: file, line: line)
        let pil = decoded["pil"] as? String
        if pil == "absent" {
            print("PIL not installed: PNG checked by the standard-library decoder only")
        } else {
            XCTAssertEqual(pil, Self.hex(image.pixels), "PIL's pixels", file: file, line: line)
        }
    }

    func testChecksumsMatchTheirStandardCheckValues() {
        XCTAssertEqual(Checksums.crc32(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(Checksums.crc32(Array("6789".utf8), continuing: Checksums.crc32(Array("12345".utf8))),
                       0xCBF4_3926)
        XCTAssertEqual(Checksums.adler32(Array("Wikipedia".utf8)), 0x11E6_0398)
        XCTAssertEqual(Checksums.adler32([UInt8]()), 1)
        // Long runs of 0xFF exercise the modulo reduction (value from Python's zlib.adler32).
        XCTAssertEqual(Checksums.adler32([UInt8](repeating: 255, count: 100_000)), 0x149A_302C)
    }

    func testRandomImageRoundTripsThroughPythonAcrossSeveralDeflateBlocks() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var rng = SeededGenerator(seed: 11)
        for (width, height) in [(1, 1), (37, 5), (301, 250)] {        // 301·250 + 250 bytes: two stored blocks
            let image = GrayImage8(width: width, height: height,
                                   pixels: (0..<(width * height)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
            let path = directory.appendingPathComponent("random-\(width)x\(height).png").path
            try PNGWriter.write(image, to: path)
            try assertPythonDecodes(path, as: image)
            let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
            let blocks = (height * (width + 1) + 65_534) / 65_535
            XCTAssertEqual(size, 8 + 25 + (12 + 2 + 5 * blocks + height * (width + 1) + 4) + 12, "stored layout")
        }
    }

    func testFloatImageDisplayRanges() throws {
        let values: [Float] = [-1, 0, 1, 2, 3, .nan]
        XCTAssertEqual(GrayImage8(width: 3, height: 2, values: values, range: DisplayRange.minMax.bounds(of: values)).pixels,
                       [0, 64, 128, 191, 255, 0])
        XCTAssertEqual(GrayImage8(width: 3, height: 2, values: values,
                                  range: DisplayRange.fixed(lower: 0, upper: 2).bounds(of: values)).pixels,
                       [0, 0, 128, 255, 255, 0])
        let sigma = DisplayRange.meanSigma(1).bounds(of: values)        // mean 1, σ √2 over the finite values
        XCTAssertEqual(sigma.lower, 1 - 2.0.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(sigma.upper, 1 + 2.0.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(GrayImage8(width: 2, height: 1, values: [5, 5], range: DisplayRange.minMax.bounds(of: [5, 5])).pixels,
                       [128, 128], "a flat image is mid-gray")

        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("ramp.png").path
        let ramp = (0..<(16 * 4)).map { Float($0) }
        try PNGWriter.write(values: ramp, width: 16, height: 4, range: .minMax, to: path)
        try assertPythonDecodes(path, as: GrayImage8(width: 16, height: 4, values: ramp, range: (0, 63)))
    }

    func testSliceMontageOrientationLayoutAndFile() throws {
        let box = 6, c = box / 2
        // Voxel value = its index, so every section pixel says where it came from.
        let volume = (0..<(box * box * box)).map { Float($0) }
        let slices = SliceMontage.centralSlices(of: volume, box: box)
        for row in 0..<box {
            for column in 0..<box {
                let up = box - 1 - row                       // the vertical axis points up
                XCTAssertEqual(slices[0][column + box * row], Float(column + box * (up + box * c)), "XY")
                XCTAssertEqual(slices[1][column + box * row], Float(column + box * (c + box * up)), "XZ")
                XCTAssertEqual(slices[2][column + box * row], Float(c + box * (column + box * up)), "YZ")
            }
        }

        let second = volume.map { -$0 }
        let range = DisplayRange.fixed(lower: -Double(box * box * box), upper: Double(box * box * box))
        let montage = SliceMontage.image(volumes: [volume, second], box: box, range: range, gap_px: 2)
        XCTAssertEqual(montage.width, 3 * box + 4)
        XCTAssertEqual(montage.height, 2 * box + 2)
        let bounds = range.bounds(of: [])
        for (v, sections) in [slices, SliceMontage.centralSlices(of: second, box: box)].enumerated() {
            for (p, section) in sections.enumerated() {
                for row in 0..<box {
                    for column in 0..<box {
                        let pixel = montage.pixels[(p * (box + 2) + column) + montage.width * (v * (box + 2) + row)]
                        XCTAssertEqual(pixel, GrayImage8.level(section[column + box * row], range: bounds))
                    }
                }
            }
        }
        XCTAssertEqual(montage.pixels[box + montage.width * 0], 255, "gap between panels")
        XCTAssertEqual(montage.pixels[0 + montage.width * box], 255, "gap between rows")

        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("slices.png").path
        try SliceMontage.write(volumes: [volume, second], box: box, range: range, to: path)
        try assertPythonDecodes(path, as: montage)
    }

    func testUnwritableDestinationThrowsAndLeavesNothing() {
        let image = GrayImage8(width: 2, height: 2)
        XCTAssertThrowsError(try PNGWriter.write(image, to: "/nonexistent-duet-directory/x.png")) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent-duet-directory/x.png"), "\(error)")
        }
    }
}
