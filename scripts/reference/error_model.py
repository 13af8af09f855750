"""The rounding-error model behind the tolerances of the model fixtures (see README.md, "Error model").

A Float32 implementation of a network differs from the exact (here: Float64) result because every op
rounds. Each op is modelled as backward stable in the normwise sense: its computed output is the exact
output plus an error of about eps * rms(output) per element, eps = sqrt(n) * u32 for reductions of n
terms under random rounding (Higham & Mary, 2019), and the same for every gradient an op passes back.
How much such errors grow by the end of the computation is the problem's conditioning. It is measured
here, in Float64, by running the computation again with every leaf module's output, and the gradient
flowing back into it, perturbed by delta * rms * N(0, 1) elementwise: the sensitivity of a result is
||change|| / delta, the largest over a few random directions. A test then allows
lambda * eps * sensitivity + 2 * u32 * ||result|| (the second term: the Float32 storage of the fixture
and of the engine's own result). With lambda = 10 the probabilistic bound of one reduction holds with
probability 1 - 2 exp(-50).

The model only holds where the computation is differentiable: a ReLU input within the error of zero, or
a near-tie in a max, changes a gradient by a jump that no tolerance of this size covers (one such input,
1e-8 from zero, moved the old 110011 fixture's gradients by 0.5 % in PyTorch's own float32 run). The
fixtures' inputs are chosen by a stated seed search so that every ReLU input lies more than the bound,
lambda * eps channel standard deviations, from zero.
"""
import contextlib

import torch
import torch.nn.functional as F

U32 = 2.0 ** -24
DELTA = 1e-7
DIRECTIONS = 4
LAMBDA = 10


@contextlib.contextmanager
def perturbed(model, generator, delta=DELTA):
    """Every leaf module's output, and the gradient that flows back into it, get delta * rms noise."""
    def noise(t):
        rms = t.detach().pow(2).mean().sqrt()
        return delta * rms * torch.randn(t.shape, generator=generator, dtype=t.dtype)

    def forward_hook(_module, _inputs, out):
        if not isinstance(out, torch.Tensor):
            return out
        out = out + noise(out)
        if out.requires_grad:
            out.register_hook(lambda g: g + noise(g))
        return out

    handles = [m.register_forward_hook(forward_hook) for m in model.modules() if not list(m.children())]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def sensitivities(compute, model, seed=99, delta=DELTA, directions=DIRECTIONS):
    """compute() -> {name: float64 tensor}; returns ({name: result}, {name: ||change|| / delta})."""
    base = {k: v.detach().clone() for k, v in compute().items()}
    sens = {k: 0.0 for k in base}
    g = torch.Generator().manual_seed(seed)
    for _ in range(directions):
        with perturbed(model, g, delta):
            other = compute()
        for k in base:
            sens[k] = max(sens[k], float((other[k].detach() - base[k]).norm()) / delta)
    return base, sens


def relu_margin(run):
    """The smallest |ReLU input| over its channel's standard deviation in one call of run() (every
    F.relu, which nn.ReLU also calls, the triplet loss's hinge included)."""
    worst = [float("inf")]
    original = F.relu

    def recording(x, *args, **kwargs):
        v = x.detach()
        if v.dim() > 1:
            sd = v.std(dim=[d for d in range(v.dim()) if d != 1], keepdim=True)
        else:
            sd = v.std() if v.numel() > 1 else v.abs()
        worst[0] = min(worst[0], float((v.abs() / sd).min()))
        return original(x, *args, **kwargs)

    F.relu = recording
    try:
        run()
    finally:
        F.relu = original
    return worst[0]


def eps(reduction):
    """The relative rounding error of one op whose longest sum has `reduction` terms."""
    return reduction ** 0.5 * U32


def bound(sensitivity, norm, reduction):
    """The tolerance on ||float32 result - exact||: lambda * eps * sensitivity + 2 u32 ||result||."""
    return LAMBDA * eps(reduction) * sensitivity + 2 * U32 * norm


def longest_reduction(model, run):
    """The most terms any one sum of the network has in one call of run(): a batch norm's N*H*W, an
    instance norm's H*W, a convolution's Cin*kh*kw (per group), a linear layer's input width."""
    longest = [1]

    def hook(m, inputs, _out):
        x = inputs[0]
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            n = x.numel() // x.shape[1]
        elif isinstance(m, torch.nn.modules.instancenorm._InstanceNorm):
            n = x[0, 0].numel()
        elif isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            n = m.weight[0].numel() if isinstance(m, torch.nn.Conv2d) else m.weight[:, 0].numel()
        elif isinstance(m, torch.nn.Linear):
            n = m.in_features
        else:
            return
        longest[0] = max(longest[0], n)

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        with torch.no_grad():
            run()
    finally:
        for h in handles:
            h.remove()
    return longest[0]


def with_sensitivities(t, sens):
    """Adds sens.<name> ([1], the measured sensitivity) for every compared tensor."""
    for k, v in sens.items():
        t[f"sens.{k}"] = torch.tensor([v], dtype=torch.float64)
    return t


def check_float32(name, t, sens, t32, reduction, keys=None):
    """PyTorch's float32 run against the float64 result, within the error model's bound: a model that
    PyTorch itself does not meet the Swift test's bound with is wrong. `keys`: the tensors compared
    (default: every one with a sensitivity)."""
    worst = 0.0
    for k in keys if keys is not None else sens:
        err = float((t32[k].double() - t[k]).norm())
        allowed = bound(sens[k], float(t[k].norm()), reduction)
        worst = max(worst, err / allowed)
        if err > allowed:
            raise SystemExit(f"{name}: PyTorch float32 {k} is {err:.3g} from float64, over the bound {allowed:.3g}")
    print(f"{name}: PyTorch float32 within {worst:.3f} of the error-model bound")
