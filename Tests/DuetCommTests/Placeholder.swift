import XCTest
final class DuetCommTestsPlaceholder: XCTestCase { func testNothing() {} }
