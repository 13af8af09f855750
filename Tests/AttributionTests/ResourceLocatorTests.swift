import Attribution
import Foundation
import XCTest

final class ResourceLocatorTests: XCTestCase {
  var folder: URL!
  let resource = "models/extractor.safetensors"

  override func setUpWithError() throws {
    folder = FileManager.default.temporaryDirectory.appendingPathComponent("locator-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

  /// Creates `relative` (and its folders) under `root`.
  func place(_ relative: String, under root: String) throws -> URL {
    let url = folder.appendingPathComponent(root).appendingPathComponent(relative)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data([1]).write(to: url)
    return url.standardizedFileURL
  }

  func locator(home: String? = nil, executable: String? = "prefix/bin/modelprint", cwd: String = "cwd")
    -> ResourceLocator
  {
    ResourceLocator(
      home: home.map { folder.appendingPathComponent($0).path },
      executable: executable.map { folder.appendingPathComponent($0) },
      currentDirectory: folder.appendingPathComponent(cwd))
  }

  func testInstallPrefixIsFoundFromAnyCurrentDirectory() throws {
    let installed = try place(resource, under: "prefix/share/modelprint")
    XCTAssertEqual(try locator().locate(resource), installed)
  }

  func testEnvironmentVariableComesFirst() throws {
    _ = try place(resource, under: "prefix/share/modelprint")
    _ = try place(resource, under: "cwd")
    let home = try place(resource, under: "home")
    XCTAssertEqual(try locator(home: "home").locate(resource), home)
  }

  func testBesideTheExecutableThenCurrentDirectory() throws {
    let cwd = try place(resource, under: "cwd")
    XCTAssertEqual(try locator().locate(resource), cwd)
    let beside = try place(resource, under: "prefix/bin")
    XCTAssertEqual(try locator().locate(resource), beside)
  }

  func testBuildCheckoutAboveTheExecutable() throws {
    let checkout = try place(resource, under: "repo")
    _ = try place("Package.swift", under: "repo")
    let found = try locator(executable: "repo/.build/x86_64-unknown-linux-gnu/debug/modelprint").locate(resource)
    XCTAssertEqual(found, checkout)
  }

  func testAnEmptyVariableIsUnset() {
    XCTAssertNil(ResourceLocator(home: "", executable: nil, currentDirectory: folder).home)
  }

  func testNotFoundNamesEveryPlaceSearched() throws {
    XCTAssertThrowsError(try locator(home: "home").locate(resource)) { error in
      guard let e = error as? ResourceNotFound else { return XCTFail("\(error)") }
      XCTAssertEqual(e.searched.count, 4)
      let text = "\(e)"
      for root in ["home", "prefix/share/modelprint", "prefix/bin", "cwd"] {
        XCTAssertTrue(text.contains(folder.appendingPathComponent(root).appendingPathComponent(resource).path), text)
      }
      XCTAssertTrue(text.contains(ResourceLocator.environmentVariable), text)
    }
  }
}
