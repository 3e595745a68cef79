import DuetKernels
import XCTest

final class KernelsPlaceholderTests: XCTestCase {
    func testModuleLinks() { XCTAssertNotNil(DuetKernels.self) }
}
