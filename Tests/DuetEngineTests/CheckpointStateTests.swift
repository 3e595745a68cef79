@testable import DuetEngine
import DuetCore
import XCTest

/// A checkpoint state file decodes to the state it was made from, and any damage (4 KB of garbage written into it,
/// one flipped bit, a cut) is refused with an error naming the file instead of resuming from it.
final class CheckpointStateTests: XCTestCase {
    private func state() -> AbinitState {
        var generator = SeededGenerator(seed: 3, stream: 1)
        return AbinitState(iteration: 17, generator: [1, 2, 3, 4], order: Array((0..<500).reversed()),
                           noiseVariance: (0..<32).map { 1 + Double($0) },
                           volume: (0..<4000).map { _ in Float(generator.nextGaussian()) },
                           assignments: (0..<3000).map { Double($0) / 7 })
    }

    func testRoundTripAndDamageIsRefused() throws {
        let original = state()
        let encoded = original.encoded
        XCTAssertEqual(try AbinitState(decoding: encoded, source: "state.sgd"), original)

        var garbage = encoded
        garbage.replaceSubrange(2000..<6096, with: (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        var flipped = encoded
        flipped[encoded.count / 2] ^= 0x10
        for (label, damaged) in [("garbage", garbage), ("flipped", flipped), ("cut", encoded.prefix(encoded.count - 100))] {
            XCTAssertThrowsError(try AbinitState(decoding: damaged, source: "state.sgd"), label) { error in
                XCTAssertTrue("\(error)".contains("state.sgd is damaged") || "\(error)".contains("state.sgd is truncated"),
                              "\(label): \(error)")
            }
        }
    }
}
