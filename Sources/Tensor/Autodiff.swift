import Foundation

/// One recorded op: its inputs and the function that maps the output's gradient to theirs.
final class Node {
  let name: String
  let inputs: [Tensor]
  /// Given the output's gradient (in the output's layout), the inputs' gradients (nil where an input
  /// needs none), each in its input's layout.
  let backward: (Tensor) -> [Tensor?]

  init(_ name: String, _ inputs: [Tensor], _ backward: @escaping (Tensor) -> [Tensor?]) {
    self.name = name
    self.inputs = inputs
    self.backward = backward
  }
}

/// Per-thread autodiff mode (a worker thread training one model must not see another's setting).
enum GradMode {
  private static let key: pthread_key_t = {
    var k = pthread_key_t()
    pthread_key_create(&k, nil)
    return k
  }()

  /// Whether ops record themselves on this thread.
  static var enabled: Bool {
    get { pthread_getspecific(key) == nil }
    set { pthread_setspecific(key, newValue ? nil : UnsafeRawPointer(bitPattern: 1)) }
  }
}

/// Runs `body` without recording ops for autodiff (inference, optimizer updates).
public func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
  let previous = GradMode.enabled
  GradMode.enabled = false
  defer { GradMode.enabled = previous }
  return try body()
}

/// Whether ops on this thread currently record for autodiff.
public var isGradEnabled: Bool { GradMode.enabled }

/// Records `output` as produced by an op over `inputs` when autodiff is on and any input needs a
/// gradient, and returns it.
@discardableResult
func record(
  _ name: String, _ output: Tensor, _ inputs: [Tensor], _ backward: @escaping (Tensor) -> [Tensor?]
) -> Tensor {
  guard GradMode.enabled, inputs.contains(where: { $0.requiresGrad }) else { return output }
  output.requiresGrad = true
  output.node = Node(name, inputs, backward)
  return output
}

extension Tensor {
  /// Back-propagates from this tensor. Leaves with `requiresGrad` accumulate into ``grad`` (as
  /// PyTorch does: call ``zeroGrad(_:)`` between steps). The graph is released afterwards.
  ///
  /// - Parameter seed: the gradient of the final objective with respect to this tensor; defaults to
  ///   ones for a one-element tensor.
  public func backward(_ seed: Tensor? = nil) {
    precondition(seed != nil || count == 1, "backward() without a seed needs a scalar, shape is \(shape)")
    precondition(requiresGrad, "backward() on a tensor that does not require grad")
    // Topological order by iterative depth-first search.
    var order: [Tensor] = []
    var visited = Set<ObjectIdentifier>()
    var stack: [(Tensor, Bool)] = [(self, false)]
    while let (t, expanded) = stack.popLast() {
      if expanded {
        order.append(t)
        continue
      }
      if visited.contains(ObjectIdentifier(t)) { continue }
      visited.insert(ObjectIdentifier(t))
      stack.append((t, true))
      if let node = t.node {
        for input in node.inputs where input.requiresGrad && !visited.contains(ObjectIdentifier(input)) {
          stack.append((input, false))
        }
      }
    }
    var grads: [ObjectIdentifier: Tensor] = [:]
    grads[ObjectIdentifier(self)] = seed ?? Tensor.full(shape, 1).toLayout(layout, differentiable: false)
    // Ops may hand one gradient tensor to several inputs (add); a leaf that would share it gets a copy,
    // so that in-place updates of one leaf's gradient (clipping) never change another's.
    var givenToLeaves = Set<ObjectIdentifier>()
    withNoGrad {
      for t in order.reversed() {
        guard let g = grads.removeValue(forKey: ObjectIdentifier(t)) else { continue }
        guard let node = t.node else {
          if let existing = t.grad {
            t.grad = existing.adding(g)
          } else if g.layout != t.layout {
            t.grad = g.toLayout(t.layout, differentiable: false)
          } else {
            t.grad = givenToLeaves.insert(ObjectIdentifier(g)).inserted ? g : g.copy()
          }
          continue
        }
        let inputGrads = node.backward(g)
        precondition(inputGrads.count == node.inputs.count, "\(node.name): backward returned wrong count")
        for (input, ig) in zip(node.inputs, inputGrads) {
          guard input.requiresGrad, let ig else { continue }
          precondition(
            ig.shape == input.shape,
            "\(node.name): gradient shape \(ig.shape) does not match input shape \(input.shape)")
          let key = ObjectIdentifier(input)
          if let existing = grads[key] { grads[key] = existing.adding(ig) } else { grads[key] = ig }
        }
        t.node = nil
      }
    }
  }

  /// `self + other` without recording, reordering `other` to this layout when needed.
  func adding(_ other: Tensor) -> Tensor {
    let o = other.layout == layout ? other : other.toLayout(layout, differentiable: false)
    let out = Tensor(uninitialized: shape, layout: layout)
    Elementwise.add(pointer, o.pointer, out.pointer, count)
    return out
  }
}

/// Sets every tensor's gradient to nil (PyTorch's `zero_grad(set_to_none=True)`).
public func zeroGrad(_ tensors: [Tensor]) {
  for t in tensors { t.grad = nil }
}
