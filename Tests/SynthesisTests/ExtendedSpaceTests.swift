import NN
import Synthesis
import Tensor
import XCTest

/// The extended architecture space: its registry and ids, its ablations, and a sweep of a pairwise
/// covering set (every value of every digit, every pair of two digits' values) forward and backward.
final class ExtendedSpaceTests: XCTestCase {
  func testRegistryIdsAndThePaperSubset() throws {
    let extended = Architecture.space(.extended)
    XCTAssertEqual(extended.count, 4 * 2 * 2 * 4 * 7 * 5 * 4 * 2)
    XCTAssertEqual(Set(extended.map(\.id)).count, extended.count)
    XCTAssertEqual(Architecture.space(.paper), Architecture.all)
    // The paper's 288 are in the extended space with their six-digit ids; every other id has eight.
    XCTAssertEqual(Set(extended.filter(\.isPaper).map(\.id)), Set(Architecture.all.map(\.id)))
    XCTAssertTrue(extended.allSatisfy { $0.id.count == ($0.isPaper ? 6 : 8) })
    for a in extended { XCTAssertEqual(try Architecture(id: a.id), a) }
    XCTAssertEqual(try Architecture(id: "31015301").digits, [3, 1, 0, 1, 5, 3, 0, 1])
  }

  func testIdsOutsideTheSpacesAreRefused() {
    XCTAssertEqual(
      Result { try Architecture(id: "11001100") }.failure, .paperSpelledLong("11001100", "110011"))
    for bad in ["210011", "110311", "110041", "110013"] {
      XCTAssertEqual(Result { try Architecture(id: bad) }.failure, .outOfRange(bad), bad)
    }
    for bad in ["41000000", "31400000", "31070000", "31000500", "31000040", "31000002", "32000000"] {
      XCTAssertEqual(Result { try Architecture(id: bad) }.failure, .outOfExtendedRange(bad), bad)
    }
    for bad in ["1100110", "110011000", "1100 110", "٣١٠١٥٣٠١"] {
      XCTAssertEqual(Result { try Architecture(id: bad) }.failure, .malformed(bad), bad)
    }
  }

  func testAblationsOfTheExtendedSpace() {
    let n = Architecture.space(.extended).count
    XCTAssertEqual(Ablation.withoutK.architectures(in: .extended).count, n / 4)
    XCTAssertEqual(Ablation.withoutU.architectures(in: .extended).count, n / 4)
    XCTAssertEqual(Ablation.withoutA.architectures(in: .extended).count, n / 7)
    XCTAssertEqual(Ablation.withoutN.architectures(in: .extended).count, n / 5)
    XCTAssertEqual(Ablation.withoutC.architectures(in: .extended).count, n / 4)
    XCTAssertEqual(Ablation.withoutR.architectures(in: .extended).count, n / 2)
    // On the paper's space the new digits' ablations keep everything.
    XCTAssertEqual(Ablation.withoutC.architectures.count, 288)
    XCTAssertEqual(Ablation.withoutR.architectures.count, 288)
    XCTAssertEqual(Ablation(flag: "w/o C"), .withoutC)
    XCTAssertEqual(Ablation(flag: "r"), .withoutR)
  }

  func testCoveringSetCoversEveryPairOfDigitValues() {
    let set = Architecture.coveringSet(of: .extended)
    let all = Architecture.space(.extended).map(\.digits)
    var pairs = Set<[Int]>()
    for v in all { for i in 0..<8 { for j in (i + 1)..<8 { pairs.insert([i, j, v[i], v[j]]) } } }
    var seen = Set<[Int]>()
    for v in set.map(\.digits) { for i in 0..<8 { for j in (i + 1)..<8 { seen.insert([i, j, v[i], v[j]]) } } }
    XCTAssertEqual(seen, pairs)
    // At least a0 × n (7 × 5) architectures are needed; the greedy set stays within twice that.
    XCTAssertLessThanOrEqual(set.count, 70)
    XCTAssertEqual(Architecture.coveringSet(of: .extended), set)
  }

  /// Every architecture of the covering set, at 16 px (K = 4 leaves 1 × 1 at the bottom), batch 2:
  /// the right output size, finite outputs, and a finite gradient for every parameter and the input.
  func testCoveringSetRunsForwardAndBackward() throws {
    var rng = RNG(seed: 11)
    let x0 = Tensor.uniform([2, 3, 16, 16], -1, 1, rng: &rng)
    for arch in Architecture.coveringSet(of: .extended) {
      let model = SyntheticModel(arch, seed: 2)
      model.train()
      let x = x0.copy()
      x.requiresGrad = true
      let y = model(x)
      XCTAssertEqual(y.shape.dims, [2, 3, 16, 16], arch.id)
      XCTAssertTrue(y.array.allSatisfy(\.isFinite), "\(arch.id): output")
      mseLoss(y, x0).backward()
      XCTAssertTrue(x.grad?.array.allSatisfy(\.isFinite) ?? false, "\(arch.id): input gradient")
      for (name, p) in model.namedParameters() {
        let g = try XCTUnwrap(p.grad, "\(arch.id): \(name) got no gradient")
        XCTAssertTrue(g.array.allSatisfy(\.isFinite), "\(arch.id): \(name) has a non-finite gradient")
      }
      // Eval mode (fused inference where the engine fuses) gives the same size and finite values.
      model.eval()
      let e = withNoGrad { model(x0) }
      XCTAssertEqual(e.shape.dims, [2, 3, 16, 16], arch.id)
      XCTAssertTrue(e.array.allSatisfy(\.isFinite), "\(arch.id): eval output")
    }
  }

  /// The new components build the layers they name: K = 4 has four down and four up blocks, pixel
  /// shuffle a 4·C convolution, a residual unit its 1×1 skip, c its kernel or modulated convolution.
  func testComponentsBuildTheirLayers() throws {
    let ldm = SyntheticModel(try Architecture(id: "31015301"), seed: 0)
    let names = Set(ldm.namedParameters().map(\.0))
    XCTAssertTrue(names.contains("7.1.skip.weight"), "the last unit changes 32 → 3 channels: \(names.sorted())")
    XCTAssertTrue(names.contains("7.0.norm.weight"))
    XCTAssertFalse(names.contains("8.0.conv.weight"))
    let shuffle = SyntheticModel(try Architecture(id: "00030000"), seed: 0)
    let shapes = Dictionary(uniqueKeysWithValues: shuffle.namedParameters().map { ($0.0, $0.1.shape.dims) })
    XCTAssertEqual(shapes["1.0.shuffle.weight"], [128, 32, 3, 3])
    XCTAssertEqual(shapes["1.0.conv.weight"], [3, 32, 3, 3])
    let k5 = SyntheticModel(try Architecture(id: "00000020"), seed: 0)
    XCTAssertEqual(k5.namedParameters().first { $0.0 == "1.0.conv.weight" }?.1.shape.dims, [3, 32, 5, 5])
    let modulated = SyntheticModel(try Architecture(id: "00000030"), seed: 0)
    let m = Dictionary(uniqueKeysWithValues: modulated.namedParameters().map { ($0.0, $0.1.shape.dims) })
    XCTAssertEqual(m["1.0.conv.weight"], [3, 32, 3, 3])
    XCTAssertEqual(m["1.0.conv.affine.weight"], [32, 32])
    XCTAssertEqual(
      modulated.namedParameters().first { $0.0 == "1.0.conv.affine.bias" }?.1.array, [Float](repeating: 1, count: 32))
  }
}

extension Result {
  fileprivate init(_ body: () throws -> Success) where Failure == Error {
    do { self = .success(try body()) } catch { self = .failure(error) }
  }
  fileprivate var failure: ArchitectureError? {
    if case .failure(let e) = self { return e as? ArchitectureError }
    return nil
  }
}
