import Fingerprint
import Foundation
import NN
import Spectral
import Synthesis
import Tensor

// The reference workloads of `torch_workloads.py`, printing the same JSON lines:
// {"workload", "threads", "value", "unit", "engine"}. Inputs are fixed random tensors; no data
// loading is timed. Usage: see `modelprint-bench --help`.

struct Options {
  var threads = 1
  var arch = "110011"
  var warmup = 3
  var iters = 10
  var workloads: [String] = []
  var plain = false
  var profile = false
  var directConv = false
  var dncnnDepth = 17
  var dncnnWidth = 64
  var batch = 64
  var lanes = 1
}

func parse() -> Options {
  var o = Options()
  var args = CommandLine.arguments.dropFirst()
  func value(_ flag: String) -> String {
    guard let v = args.popFirst() else { fail("\(flag) needs a value") }
    return v
  }
  while let a = args.popFirst() {
    switch a {
    case "--threads": o.threads = Int(value(a)) ?? { fail("--threads needs an integer") }()
    case "--arch": o.arch = value(a)
    case "--warmup": o.warmup = Int(value(a)) ?? { fail("--warmup needs an integer") }()
    case "--iters": o.iters = Int(value(a)) ?? { fail("--iters needs an integer") }()
    case "--batch": o.batch = Int(value(a)) ?? { fail("--batch needs an integer") }()
    case "--lanes": o.lanes = Int(value(a)) ?? { fail("--lanes needs an integer") }()
    case "--plain": o.plain = true
    case "--profile": o.profile = true
    case "--direct-conv": o.directConv = true
    case "--dncnn-depth": o.dncnnDepth = Int(value(a)) ?? { fail("--dncnn-depth needs an integer") }()
    case "--dncnn-width": o.dncnnWidth = Int(value(a)) ?? { fail("--dncnn-width needs an integer") }()
    case "-h", "--help":
      print(
        """
        usage: modelprint-bench [--threads N] [--arch ID] [--warmup W] [--iters I] [--plain] [--profile] [--direct-conv]
                                [--dncnn-depth D] [--dncnn-width W] [--batch B] [--lanes L] WORKLOAD...
        workloads: synth-train synth-forward resnet-train resnet-infer dncnn-infer fft extractor-train
        --threads N threads for every kernel (default 1)
        --arch ID the synthetic architecture of synth-train and synth-forward (default 110011)
        --warmup W, --iters I untimed and timed runs; the median of the timed ones is reported (default 3 and 10)
        --plain keeps activations in plain NCHW (for comparison with the blocked default)
        --profile prints the forward time of each leaf layer type to standard error
        --direct-conv runs every convolution through oneDNN (no matrix product for tiny inputs)
        --dncnn-depth D, --dncnn-width W set dncnn-infer's network (default 17 and 64, the reference's)
        --batch B, --lanes L resnet-infer's windows (default 64), cut into L lanes run side by side (default 1)
        """)
      exit(0)
    default:
      if a.hasPrefix("-") { fail("unknown option \(a); see --help") }
      o.workloads.append(a)
    }
  }
  if o.workloads.isEmpty { fail("no workload given; see --help") }
  return o
}

func fail(_ message: String) -> Never {
  FileHandle.standardError.write("modelprint-bench: \(message)\n".data(using: .utf8)!)
  exit(2)
}

/// Median seconds of `iters` timed runs after `warmup` untimed ones.
func timed(_ warmup: Int, _ iters: Int, _ body: () -> Void) -> Double {
  for _ in 0..<warmup { body() }
  var times: [Double] = []
  for _ in 0..<iters {
    let t0 = DispatchTime.now().uptimeNanoseconds
    body()
    times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
  }
  times.sort()
  return times.count % 2 == 1 ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2
}

/// Extra fields of the current workload's JSON line.
nonisolated(unsafe) var extra: [String: Any] = [:]

func run(_ name: String, _ o: Options) -> (Double, String) {
  var rng = RNG(seed: 0)
  switch name {
  case "synth-train", "synth-forward":
    let arch: Architecture
    do { arch = try Architecture(id: o.arch) } catch { fail("\(error)") }
    let model = SyntheticModel(arch, rng: &rng)
    let x = Tensor.uniform([16, 3, 128, 128], -1, 1, rng: &rng)
    if name == "synth-forward" {
      model.eval()
      return (16 / timed(o.warmup, o.iters) { withNoGrad { _ = model(x) } }, "img/s")
    }
    let opt = Adam(model.parameters, learningRate: 1e-4)
    let step = {
      opt.zeroGrad()
      mseLoss(model(x), x).backward()
      opt.step()
    }
    let seconds = timed(o.warmup, o.iters, step)
    // One more step with the convolutions' work counted: achieved GFLOP/s while in conv kernels and
    // the share of the step they take.
    let (gflop, gflops, share) = convStats(step)
    extra = [
      "conv_gflop_per_step": (gflop * 100).rounded() / 100, "conv_gflops": (gflops * 10).rounded() / 10,
      "conv_share": (share * 1000).rounded() / 1000,
    ]
    return (seconds, "s/step")
  case "resnet-train", "resnet-infer":
    let model = ResNet(depth: 18, width: 32, classes: 1000, projection: 128, rng: &rng)
    if name == "resnet-infer" {
      model.eval()
      let n = max(1, o.batch)
      let lanes = max(1, min(o.lanes, n))
      // Lanes: the batch cut in `lanes` parts run side by side, each on its share of the threads.
      let parts = (0..<lanes).map { l in
        Tensor.uniform([n * (l + 1) / lanes - n * l / lanes, 3, 64, 64], rng: &rng)
      }
      let perLane = max(1, Threads.count / lanes)
      return (
        Double(n)
          / timed(o.warmup, o.iters) {
            Threads.parallelFor(lanes) { l in
              Threads.withCount(perLane) { withNoGrad { _ = model.embed(parts[l]) } }
            }
          }, "img/s"
      )
    }
    let x = Tensor.uniform([32, 3, 64, 64], rng: &rng)
    let labels = (0..<32).map { $0 / 4 }
    let opt = Adam.adamW(model.parameters, learningRate: 1e-4, weightDecay: 0.01)
    return (
      32
        / timed(o.warmup, o.iters) {
          opt.zeroGrad()
          let (logits, z) = model.heads(x)
          (crossEntropy(logits, labels: labels) + batchHardTriplet(z, labels: labels, margin: 0.3)).backward()
          opt.step()
        }, "img/s"
    )
  case "extractor-train":
    // The whole extractor training step as `modelprint train` runs it at its defaults (P × K = 32 × 4,
    // ResNet-18 width 32, 64 px): sampling, spectra of 8-bit tiles on the producer thread, forward,
    // CE + triplet, backward, clipping, AdamW. Random tiles stand in for fingerprinted ones.
    let classes = 40
    let set = FingerprintedSet(
      keys: (0..<classes).map { "m\($0)" }, architectures: (0..<classes).map { "m\($0)" }, perClass: 16, size: 64,
      tiles: (0..<(classes * 16 * 3 * 64 * 64)).map { _ in UInt8(rng.int(256)) })
    var config = ExtractorConfig()
    config.steps = o.warmup + o.iters
    config.heldOut = []
    var stamps: [UInt64] = []
    do {
      _ = try ExtractorTrainer(config: config).train(
        set, onStep: { _ in stamps.append(DispatchTime.now().uptimeNanoseconds) })
    } catch { fail("\(error)") }
    var times = zip(stamps.dropFirst(o.warmup), stamps.dropFirst(o.warmup - 1)).map { Double($0 - $1) / 1e9 }.sorted()
    if times.isEmpty { times = [0] }
    let median = times[times.count / 2]
    return (Double(config.modelsPerBatch * config.tilesPerClass) / median, "img/s")
  case "dncnn-infer":
    let model = DnCNN(depth: o.dncnnDepth, width: o.dncnnWidth, rng: &rng)
    model.eval()
    let x = Tensor.uniform([16, 3, 128, 128], rng: &rng)
    return (16 / timed(o.warmup, max(2, o.iters / 3)) { withNoGrad { _ = model(x) } }, "img/s")
  case "fft":
    return (1000 * fftWorkload(o, rng: &rng), "ms")
  default:
    fail(
      "unknown workload \(name); known: synth-train synth-forward resnet-train resnet-infer dncnn-infer fft extractor-train"
    )
  }
}

// MARK: - fft (Spectral)

/// Median seconds of |FFT2| over a fixed random 64 × 3 × 128 × 128 batch, torch's `rfft2(x).abs()`.
///
/// torch's rfft2 returns only the W/2 + 1 non-negative column frequencies; `FFT2D.magnitude`
/// computes the full spectrum (all W columns, the rest mirrored from that half), so it writes about
/// twice the output for the same transforms.
func fftWorkload(_ o: Options, rng: inout RNG) -> Double {
  let x = Tensor.uniform([64, 3, 128, 128], rng: &rng)
  return timed(o.warmup, o.iters) { _ = FFT2D.magnitude(x) }
}

/// Convolution work of one more run of `body`: GFLOP, the GFLOP/s while in convolution kernels and
/// the share of that run's wall time they took (of the same run, so that a slow moment of the machine
/// does not skew it against the timed median).
func convStats(_ body: () -> Void) -> (gflop: Double, gflops: Double, share: Double) {
  KernelStats.reset()
  KernelStats.enabled = true
  let t0 = DispatchTime.now().uptimeNanoseconds
  body()
  let wall = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
  KernelStats.enabled = false
  let t = KernelStats.total("conv")
  return (t.flops / 1e9, t.flops / 1e9 / max(t.seconds, 1e-12), t.seconds / max(wall, 1e-12))
}

let options = parse()
Threads.set(options.threads)
LayoutPolicy.allowBlocked = !options.plain
DenseConvPolicy.enabled = !options.directConv
for name in options.workloads {
  LayerProfiler.enabled = options.profile
  let (value, unit) = run(name, options)
  if options.profile {
    FileHandle.standardError.write(
      "\(name): forward time by layer over all runs\n\(LayerProfiler.report)\n".data(using: .utf8)!)
    LayerProfiler.reset()
  }
  var line: [String: Any] = [
    "workload": name, "threads": options.threads, "value": (value * 10000).rounded() / 10000, "unit": unit,
    "engine": "modelprint",
  ]
  line.merge(extra) { a, _ in a }
  extra = [:]
  let data = try! JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
  print(String(data: data, encoding: .utf8)!)
  fflush(stdout)
}
