import CDNNL
import Foundation

// Inference convolutions on tiny inputs as one matrix product.
//
// On a 2 × 2 input a 3 × 3 convolution with padding 1 reads 4 of its 9 taps per output pixel; a
// direct kernel still runs all 9 over the padding (ResNet's last stage at 64 px input, where oneDNN's
// kernel reaches a third of the machine's peak). Unrolled, the convolution is a dense map from the
// C·H·W inputs of a sample to its O·OH·OW outputs: y[N, O·OH·OW] = x[N, C·H·W] · D, with D built once
// per weight from the taps that touch the input. That product skips the padding, and the matrix is
// built in the activations' own memory order, so blocked layouts need no reorder.

/// Engine policy for the dense path. Any thread may change it; the next convolution follows.
public enum DenseConvPolicy {
  private static let settings = Locked((enabled: true, minimumBatch: 16))

  /// Whether inference convolutions on small inputs may run as a matrix product (off compares them
  /// with oneDNN's kernels).
  public static var enabled: Bool {
    get { settings.current.enabled }
    set { settings.withLock { $0.enabled = newValue } }
  }
  /// The dense product is used when it does at most this fraction of the direct convolution's
  /// multiply-adds. Measured on ResNet-18 width 32 at 64 px (one thread): 3 × 3 on 2 × 2 maps
  /// (ratio 0.44) takes 1.7 ms instead of 7; on 4 × 4 maps (ratio 1.8) 6.8 ms instead of 5.7.
  public static let maximumWorkRatio = 1.0
  /// Smallest batch that takes the dense path. Unrolling costs once per weight what a batch of a
  /// few samples saves (about 6 ms and 8 MiB per ResNet-18 w32 layer): a single image's 9 windows,
  /// as `identify` embeds them, stay on the direct kernels, batched embedding takes the product.
  public static var minimumBatch: Int {
    get { settings.current.minimumBatch }
    set { settings.withLock { $0.minimumBatch = newValue } }
  }
  /// Largest unrolled matrix, in elements (64 MiB).
  public static let maximumMatrixElements = 16 << 20
  /// Unrolled matrices kept at most, in elements (256 MiB); beyond it the cache starts over.
  public static let cacheElements = 64 << 20
}

/// The position of element (c, h, w) within one sample of a 4-D tensor in `layout`.
func sampleOffset(_ layout: Layout, c: Int, h: Int, w: Int, channels: Int, height: Int, width: Int) -> Int {
  switch layout {
  case .plain: return (c * height + h) * width + w
  case .nhwc: return (h * width + w) * channels + c
  case .nChw8c: return ((c / 8 * height + h) * width + w) * 8 + c % 8
  case .nChw16c: return ((c / 16 * height + h) * width + w) * 16 + c % 16
  }
}

/// An unrolled convolution weight for one input geometry and layout pair, with its bias spread over
/// the output positions.
final class DenseConvMatrix {
  let weight: Tensor
  let weightVersion: Int
  let bias: Tensor?
  let biasVersion: Int
  /// Dᵀ as a 1 × 1 convolution weight [O·OH·OW, C·H·W, 1, 1]: rows in the output's sample order,
  /// columns in the input's.
  let matrix: Tensor
  /// [O·OH·OW]: the bias of each output position's channel (zeros without a bias).
  let biasRow: Tensor

  init(
    weight: Tensor, bias: Tensor?, input: [Int], inLayout: Layout, output: [Int], outLayout: Layout, stride: Int,
    padding: Int
  ) {
    self.weight = weight
    self.weightVersion = weight.version
    self.bias = bias
    self.biasVersion = bias?.version ?? 0
    let (c, h, w) = (input[1], input[2], input[3])
    let (o, oh, ow) = (output[1], output[2], output[3])
    let (kh, kw) = (weight.shape[2], weight.shape[3])
    let columns = o * oh * ow
    let inner = c * h * w
    matrix = Tensor.zeros([columns, inner, 1, 1])
    biasRow = Tensor.zeros([columns])
    // An element's position in a sample splits into a channel part and a pixel part in every layout.
    let channelOffset = (0..<c).map { sampleOffset(inLayout, c: $0, h: 0, w: 0, channels: c, height: h, width: w) }
    let m = matrix.pointer
    let wp = weight.pointer
    let bp = biasRow.pointer
    let taps = kh * kw
    channelOffset.withUnsafeBufferPointer { channelOffset in
      for oc in 0..<o {
        for oy in 0..<oh {
          for ox in 0..<ow {
            let col = sampleOffset(outLayout, c: oc, h: oy, w: ox, channels: o, height: oh, width: ow)
            bp[col] = bias?.pointer[oc] ?? 0
            for ky in 0..<kh {
              let iy = oy * stride - padding + ky
              guard iy >= 0 && iy < h else { continue }
              for kx in 0..<kw {
                let ix = ox * stride - padding + kx
                guard ix >= 0 && ix < w else { continue }
                let row = m + col * inner + sampleOffset(inLayout, c: 0, h: iy, w: ix, channels: c, height: h, width: w)
                let tap = wp + oc * c * taps + ky * kw + kx
                for ic in 0..<c { row[channelOffset[ic]] = tap[ic * taps] }
              }
            }
          }
        }
      }
    }
  }

  func matches(_ w: Tensor, _ b: Tensor?) -> Bool {
    weight === w && weightVersion == w.version && bias === b && biasVersion == (b?.version ?? 0)
  }
}

/// Unrolled matrices by weight, input geometry and layouts; shared by all threads.
enum DenseConvCache {
  private static let lock = NSLock()
  // Read and written only with `lock` held.
  nonisolated(unsafe) private static var entries: [String: DenseConvMatrix] = [:]
  nonisolated(unsafe) private static var elements = 0

  static func matrix(
    weight: Tensor, bias: Tensor?, input: [Int], inLayout: Layout, output: [Int], outLayout: Layout, stride: Int,
    padding: Int
  ) -> DenseConvMatrix {
    let key =
      "\(ObjectIdentifier(weight).hashValue)|\(input.dropFirst())|\(inLayout)|\(outLayout)|s\(stride)|p\(padding)"
    lock.lock()
    defer { lock.unlock() }
    if let m = entries[key], m.matches(weight, bias) { return m }
    let m = DenseConvMatrix(
      weight: weight, bias: bias, input: input, inLayout: inLayout, output: output, outLayout: outLayout,
      stride: stride, padding: padding)
    // Training replaces folded weights with new tensors; the bound keeps stale ones from piling up.
    if let old = entries[key] { elements -= old.matrix.count }
    if elements + m.matrix.count > DenseConvPolicy.cacheElements {
      entries.removeAll()
      elements = 0
    }
    entries[key] = m
    elements += m.matrix.count
    return m
  }
}

/// Whether an inference convolution of `input` with weight dims `wd` to `output` runs densely.
func denseConvApplies(input: [Int], weight wd: [Int], output: [Int]) -> Bool {
  // A 1 × 1 kernel reads no padding; there is nothing to skip.
  guard DenseConvPolicy.enabled, wd[2] * wd[3] > 1, input[0] >= DenseConvPolicy.minimumBatch else {
    return false
  }
  let inner = input[1] * input[2] * input[3]
  let outer = output[1] * output[2] * output[3]
  let dense = Double(inner) * Double(outer)
  let direct = Double(wd[0] * wd[1] * wd[2] * wd[3]) * Double(output[2] * output[3])
  return dense <= DenseConvPolicy.maximumWorkRatio * direct && inner * outer <= DenseConvPolicy.maximumMatrixElements
}

/// The layout a dense convolution writes: the input's when the output channels fit it.
func denseOutputLayout(_ inLayout: Layout, channels: Int) -> Layout {
  switch inLayout {
  case .nChw8c where channels % 8 == 0: return .nChw8c
  case .nChw16c where channels % 16 == 0: return .nChw16c
  case .nhwc: return .nhwc
  default: return .plain
  }
}

/// Convolution as y = x · D (+ `adding`) + bias, then `postOp`; inference only.
func denseConvolution(
  _ x: Tensor, _ w: Tensor, _ b: Tensor?, stride: Int, padding: Int, outDims: [Int], postOp: PostOp?, adding: Tensor?
) -> Tensor {
  let outLayout = denseOutputLayout(x.layout, channels: outDims[1])
  let m = DenseConvCache.matrix(
    weight: w, bias: b, input: x.shape.dims, inLayout: x.layout, output: outDims, outLayout: outLayout,
    stride: stride, padding: padding)
  let n = x.shape[0]
  let k = x.count / max(n, 1)
  let columns = m.biasRow.count
  let out =
    adding.map { $0.toLayout(outLayout, differentiable: false).copy() }
    ?? Tensor(uninitialized: Shape(outDims), layout: outLayout)
  // The product runs as oneDNN's 1 × 1 convolution over one image whose N "pixels" are the samples:
  // [N, K] row-major is that image in channels-last order, and so is the [N, O·OH·OW] output. Its
  // kernel keeps the reordered weights across calls and fuses bias, shortcut and activation.
  let key = "dense|n\(n)|k\(k)|c\(columns)|\(postOp?.rawValue ?? "")|sum\(adding != nil)"
  let p = DNNLContext.primitive(key) {
    let prim = makeForward(
      ConvGeometry(transposed: false, stride: 1, padding: 0, outputPadding: 0), src: DNNL.md([1, k, n, 1], .nhwc),
      weights: [columns, k, 1, 1], bias: true, dst: DNNL.md([1, columns, n, 1], .nhwc), training: false,
      postOp: postOp, accumulate: adding != nil)
    prim.mds["weights"] = DNNL.query(prim.pd, dnnl_query_weights_md)
    return prim
  }
  let (wPtr, wKeep) = p.cachedWeights(m.matrix, plainMD: DNNL.md([columns, k, 1, 1], .plain))
  p.execute([
    (DNNL_ARG_SRC, DNNL.md([1, k, n, 1], .nhwc), UnsafeMutableRawPointer(x.pointer)),
    (DNNL_ARG_WEIGHTS, p.mds["weights"]!, wPtr),
    (DNNL_ARG_BIAS, DNNL.md([columns], .plain), UnsafeMutableRawPointer(m.biasRow.pointer)),
    (DNNL_ARG_DST, DNNL.md([1, columns, n, 1], .nhwc), UnsafeMutableRawPointer(out.pointer)),
  ])
  withExtendedLifetime(wKeep) {}
  return out
}
