import XCTest
final class DuetFormatsTestsPlaceholder: XCTestCase { func testNothing() {} }
