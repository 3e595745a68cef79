import XCTest
final class DuetCoreTestsPlaceholder: XCTestCase { func testNothing() {} }
