import XCTest
final class DuetCLITestsPlaceholder: XCTestCase { func testNothing() {} }
