import Imaging
import Reports
import XCTest

final class ContactSheetTests: XCTestCase {
  func testCellsAreLaidOutInColumnsWithGaps() {
    let red = Image(width: 3, height: 2, pixels: [Float](repeating: 1, count: 6) + [Float](repeating: 0, count: 12))
    let blue = Image(width: 2, height: 4, pixels: [Float](repeating: 0, count: 16) + [Float](repeating: 1, count: 8))
    let sheet = ContactSheet.make([[red, blue], [blue]], gap: 1)
    // Columns are 3 and 2 wide, rows 4 and 4 high, with 1-pixel gaps around every cell.
    XCTAssertEqual(sheet.width, 1 + 3 + 1 + 2 + 1)
    XCTAssertEqual(sheet.height, 1 + 4 + 1 + 4 + 1)
    XCTAssertEqual(sheet[0, 1, 1], 1)  // red's top-left, red channel
    XCTAssertEqual(sheet[2, 1, 1], 0)
    XCTAssertEqual(sheet[2, 1, 5], 1)  // blue's top-left in the second column, blue channel
    XCTAssertEqual(sheet[0, 1, 5], 0)
    XCTAssertEqual(sheet[2, 6, 1], 1)  // second row starts after row 1's height (4) and a gap
    XCTAssertEqual(sheet[0, 0, 0], 1)  // background is white
    XCTAssertEqual(sheet[1, 4, 2], 1)  // below the 2-pixel-high red image: background
  }
}
