#!/usr/bin/env python3
"""Write the PyTorch reference fixtures that ModelPrint's Swift tests compare against.

Pinned and deterministic: torch==2.13.0+cpu (see requirements.txt), one thread, fixed seeds. The model and
op fixtures are computed in float64 from float32 inputs and weights, with each result's sensitivity under
the rounding-error model of error_model.py (sens.<name>), which the Swift tests turn into tolerances.
Run from anywhere:

    python3 scripts/reference/make_fixtures.py            # writes Tests/Fixtures/reference/*.safetensors

The models come from ../shared/reference/torch_workloads.py (relative to the repository root), the same
file the speed comparison uses, so the fixtures and the benchmark describe the same networks.

Every file is a plain safetensors file, written by hand (no safetensors package):
  u64 little-endian header length N | N bytes of JSON, space-padded to a multiple of 8 |
  raw little-endian float32 data, tensors in sorted-name order, each C-contiguous (NCHW).
The JSON maps each tensor name to {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]} (offsets
relative to the start of the data) and "__metadata__" to string key/values (torch version, script,
description, hyperparameters). Integer things (labels) are stored as F32 too.

Files:
  synth_110011.safetensors, synth_001232.safetensors   synthetic_model(arch): forward, MSE loss, backward,
                                                       BN running stats, 20 Adam steps, eval output
                                                       (110011 on 16 x 16 inputs; input seeds keep every
                                                       ReLU input away from its kink)
  resnet18_w8.safetensors                              ResNet18(width=8, classes=10, proj=16): CE + batch-hard
                                                       triplet, backward, 20 AdamW steps, eval embedding
  ops.safetensors                                      one forward/backward check per op
  ops_extended.safetensors                             the same for the extended synthesis space's ops
                                                       (leaky ReLU, SiLU, GELU tanh, group norm, pixel shuffle,
                                                       StyleGAN2's modulated convolution)
  ops_training.safetensors                             the same for the training heads (row normalisation, CosFace)

Names on the command line make only those files: `make_fixtures.py ops_extended`.
"""
import copy
import hashlib
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from error_model import (  # noqa: E402
    LAMBDA, check_float32, eps, longest_reduction, relu_margin, sensitivities, with_sensitivities)
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402

SCRIPT = "scripts/reference/make_fixtures.py"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REFERENCE_DIR = os.path.normpath(os.path.join(REPO, "..", "shared", "reference"))
OUT_DIR = os.path.join(REPO, "Tests", "Fixtures", "reference")
PINNED_TORCH = "2.13.0+cpu"

sys.dont_write_bytecode = True  # leave no __pycache__ in the shared folder
sys.path.insert(0, REFERENCE_DIR)
try:
    from torch_workloads import ResNet18, batch_hard_triplet, synthetic_model  # noqa: E402
except ImportError as e:
    raise SystemExit(f"cannot import torch_workloads from {REFERENCE_DIR}: {e}\n"
                     "the shared reference folder must sit next to the repository (../shared/reference)")


# ---------------------------------------------------------------------------------------------------------
# safetensors, by hand







def save(filename, tensors, description, **hyper):
    for name, t in tensors.items():
        if not torch.isfinite(t.detach().float()).all():
            raise SystemExit(f"{filename}: {name} has non-finite values")
    meta = {"torch": torch.__version__, "numpy": np.__version__, "script": SCRIPT, "description": description,
            "dtype": "float32", "computed_in": "float32", "layout": "contiguous, NCHW (PyTorch default)",
            "threads": "1"}
    meta.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in hyper.items()})
    path = os.path.join(OUT_DIR, filename)
    write_safetensors(path, tensors, meta)
    back, _ = read_safetensors(path)
    for name, t in tensors.items():
        assert np.array_equal(back[name], t.detach().float().numpy()), f"{filename}: {name} did not round-trip"
    return path


# ---------------------------------------------------------------------------------------------------------
# helpers

def state_tensors(model, prefix):
    """Every parameter and buffer of the state dict (num_batches_tracked skipped), cloned."""
    return {f"{prefix}{k}": v.detach().clone() for k, v in model.state_dict().items()
            if not k.endswith("num_batches_tracked")}


def buffer_tensors(model, prefix):
    return {f"{prefix}{k}": v.detach().clone() for k, v in model.named_buffers()
            if not k.endswith("num_batches_tracked")}


def grad_tensors(model, prefix="grad."):
    out = {}
    for k, p in model.named_parameters():
        if p.grad is None:
            raise SystemExit(f"parameter {k} got no gradient")
        out[prefix + k] = p.grad.detach().clone()
    return out


def generator(seed):
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------------------------------------------------
# 1. synthetic models

def input_seed(run, make_input, margin):
    """The first input seed from 1 whose run(input) keeps every ReLU input `margin` channel standard
    deviations away from the kink (a gradient jumps there, and no tolerance can cover a jump)."""
    for seed in range(1, 1000):
        x = make_input(seed)
        if relu_margin(lambda: run(x)) >= margin:
            return seed
    raise SystemExit(f"no input seed keeps the ReLU inputs {margin} from zero")


def fresh_input(model, init, x0):
    """Resets `model` to `init` in training mode with no gradients, and returns a copy of `x0` that
    collects its gradient: every single-step run starts from the same state."""
    model.load_state_dict(init)
    model.train()
    model.zero_grad(set_to_none=True)
    return x0.clone().requires_grad_(True)


def synth_run(arch, dtype, x0, init):
    """Forward, MSE loss and backward from `init`, then the eval output; and 20 Adam steps."""
    model = synthetic_model(arch).to(dtype).train()
    model.load_state_dict(init)
    x0 = x0.to(dtype)

    def one_step():
        x = fresh_input(model, init, x0)
        out = model(x)
        loss = F.mse_loss(out, x0)
        loss.backward()
        r = {"output": out, "loss": loss.reshape(1), "grad.input": x.grad}
        r.update(grad_tensors(model))
        r.update(buffer_tensors(model, "after."))
        # Eval mode right after the single training forward: after optimizer steps the running mean
        # drifts through biases that precede a batch norm (their gradient is rounding noise, which Adam
        # normalises into full-size steps), so a later eval output does not identify an implementation.
        model.eval()
        with torch.no_grad():
            r["eval_output"] = model(x0)
        return r

    def adam():
        model.load_state_dict(init)
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        losses = []
        for _ in range(20):
            opt.zero_grad(set_to_none=True)
            loss = F.mse_loss(model(x0), x0)
            losses.append(loss.detach().reshape(1))
            loss.backward()
            opt.step()
        return {"adam_losses": torch.cat(losses)}

    return model, one_step, adam


def synth_fixture(arch, size):
    torch.manual_seed(0)
    model32 = synthetic_model(arch).float().train()
    init = {k: v.double() for k, v in copy.deepcopy(model32.state_dict()).items()}

    def make_input(seed):
        return (torch.rand(4, 3, size, size, generator=generator(seed)) * 2 - 1).double()

    probe = synthetic_model(arch).double().train()
    probe.load_state_dict(init)
    # The longest sum is a layer's or the MSE loss's mean over every output element.
    reduction = max(longest_reduction(probe, lambda: probe(make_input(1))), make_input(1).numel())
    margin = LAMBDA * eps(reduction)
    seed = input_seed(probe, make_input, margin)
    x0 = make_input(seed)
    model, one_step, adam = synth_run(arch, torch.float64, x0, init)
    t, sens = sensitivities(one_step, model)
    more, more_sens = sensitivities(adam, model)
    t.update(more)
    sens.update(more_sens)
    _, one32, adam32 = synth_run(arch, torch.float32, x0, {k: v.float() for k, v in init.items()})
    t32 = one32()
    t32.update(adam32())
    check_float32(f"synth_{arch}", t, sens, t32, reduction)
    t = with_sensitivities(t, sens)
    t.update({f"param.{k}": v for k, v in init.items() if not k.endswith("num_batches_tracked")})
    t["input"] = x0

    return save(f"synth_{arch}.safetensors", t,
                f"synthetic_model('{arch}') in train mode on a 4x3x{size}x{size} input in [-1,1], computed in float64: "
                "initial params+buffers (param.*), output, loss = mse_loss(output, input) (gradient flows only "
                "through output), grad.* for every parameter and for the input, BN running stats after that one "
                "forward (after.*), the eval-mode output with those stats (eval_output); then 20 Adam steps from "
                "the same initial state (adam_losses = loss before each update); sens.<name> the sensitivity of "
                "each result under the error model (scripts/reference/error_model.py)",
                arch=arch, model_seed="torch.manual_seed(0) before building the model (float32 init)",
                input=f"torch.rand(4,3,{size},{size}, generator=Generator().manual_seed({seed})) * 2 - 1",
                input_seed=f"{seed}: the first from 1 whose forward keeps every ReLU input {margin:.3g} channel "
                "standard deviations (lambda * eps) from zero",
                loss="F.mse_loss(model(input), input)", optimizer="torch.optim.Adam",
                lr=1e-3, betas=[0.9, 0.999], eps=1e-8, weight_decay=0.0, steps=20,
                zero_grad="set_to_none=True", bn_momentum=0.1, bn_eps=1e-5, reduction_length=reduction,
                error_model="lambda=10, eps=sqrt(reduction_length)*2^-24, delta=1e-7, 4 directions",
                computed_in="float64")


# ---------------------------------------------------------------------------------------------------------
# 2. ResNet-18, width 8

def resnet_run(dtype, x0, y, init):
    model = ResNet18(width=8, classes=10, proj=16).to(dtype).train()
    x0 = x0.to(dtype)

    def one_step():
        x = fresh_input(model, init, x0)
        logits, z = model(x)
        l_ce = F.cross_entropy(logits, y)
        l_tr = batch_hard_triplet(z, y, margin=0.3)
        loss = l_ce + l_tr
        loss.backward()
        r = {"logits": logits, "proj": z, "loss": loss.reshape(1), "loss_ce": l_ce.reshape(1),
             "loss_triplet": l_tr.reshape(1), "grad.input": x.grad}
        r.update(grad_tensors(model))
        r.update(buffer_tensors(model, "after."))
        model.eval()
        with torch.no_grad():
            r["eval_embed"] = model.embed(x0)
        return r

    def adamw():
        model.load_state_dict(init)
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
        losses = []
        for _ in range(20):
            opt.zero_grad(set_to_none=True)
            logits, z = model(x0)
            loss = F.cross_entropy(logits, y) + batch_hard_triplet(z, y, margin=0.3)
            losses.append(loss.detach().reshape(1))
            loss.backward()
            opt.step()
        return {"adamw_losses": torch.cat(losses)}

    return model, one_step, adamw


def resnet_fixture():
    torch.manual_seed(0)
    model32 = ResNet18(width=8, classes=10, proj=16).float().train()
    init = {k: v.double() if v.is_floating_point() else v for k, v in copy.deepcopy(model32.state_dict()).items()}
    y = torch.arange(8) // 2

    def make_input(seed):
        return torch.rand(8, 3, 32, 32, generator=generator(seed)).double()

    probe = ResNet18(width=8, classes=10, proj=16).double().train()

    def loss_of(x):
        probe.load_state_dict(init)
        logits, z = probe(x)
        return F.cross_entropy(logits, y) + batch_hard_triplet(z, y, margin=0.3)

    reduction = longest_reduction(probe, lambda: loss_of(make_input(1)))
    margin = LAMBDA * eps(reduction)
    seed = input_seed(loss_of, make_input, margin)
    x0 = make_input(seed)
    model, one_step, adamw = resnet_run(torch.float64, x0, y, init)
    t, sens = sensitivities(one_step, model)
    more, more_sens = sensitivities(adamw, model)
    t.update(more)
    sens.update(more_sens)
    init32 = {k: v.float() if v.is_floating_point() else v for k, v in init.items()}
    _, one32, adamw32 = resnet_run(torch.float32, x0, y, init32)
    t32 = one32()
    t32.update(adamw32())
    check_float32("resnet18_w8", t, sens, t32, reduction)
    t = with_sensitivities(t, sens)
    t.update({f"param.{k}": v for k, v in init.items() if not k.endswith("num_batches_tracked")})
    t["input"] = x0
    t["labels"] = y.double()

    return save("resnet18_w8.safetensors", t,
                "ResNet18(width=8, classes=10, proj=16) in train mode on an 8x3x32x32 input in [0,1] with labels "
                "arange(8)//2, computed in float64: initial params+buffers (param.*), logits, proj (z), loss = "
                "cross_entropy(logits, labels) + batch_hard_triplet(z, labels, margin=0.3), grad.* for every "
                "parameter and the input, BN running stats after that forward (after.*), "
                "model.eval().embed(input) with those stats (eval_embed); then 20 AdamW steps from the same "
                "initial state (adamw_losses = loss before each update); sens.<name> the sensitivity of each "
                "result under the error model (scripts/reference/error_model.py)",
                model="ResNet18(width=8, classes=10, proj=16)",
                model_seed="torch.manual_seed(0) before building the model (float32 init)",
                input=f"torch.rand(8,3,32,32, generator=Generator().manual_seed({seed}))",
                input_seed=f"{seed}: the first from 1 whose forward keeps every ReLU input (the triplet hinge "
                f"included) {margin:.3g} standard deviations (lambda * eps) from zero",
                labels="torch.arange(8) // 2", margin=0.3,
                loss="F.cross_entropy(logits, labels) + batch_hard_triplet(proj, labels, 0.3)",
                optimizer="torch.optim.AdamW", lr=1e-3, betas=[0.9, 0.999], eps=1e-8, weight_decay=0.01,
                steps=20, zero_grad="set_to_none=True", bn_momentum=0.1, bn_eps=1e-5, reduction_length=reduction,
                error_model="lambda=10, eps=sqrt(reduction_length)*2^-24, delta=1e-7, 4 directions",
                computed_in="float64")


# ---------------------------------------------------------------------------------------------------------
# 3. per-op checks

class Op(nn.Module):
    """One op as a leaf module, so the error model perturbs its output and the gradient into it."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, v):
        return self.fn(v)


class OpRecorder:
    """Collects one forward/backward check per op into `t`: op i seeds its module init and input with
    torch.manual_seed(seed0 + 1 + i), its upstream gradient with seed0 + 10_001 + i."""

    def __init__(self, seed0=100):
        self.t = {}
        self.notes = {}
        self.reductions = {}
        self.seed = [seed0]

    def rng(self):
        self.seed[0] += 1
        torch.manual_seed(self.seed[0])  # for module init too
        return generator(self.seed[0])

    def randn(self, *shape):
        return torch.randn(*shape, generator=self.rng())

    def run_op(self, name, fn, x, module, weights, upstream):
        """Computes the op in float64 from the float32 inputs; stores results and sensitivities."""
        t = self.t
        if module is not None:
            op = copy.deepcopy(module).double()
            state = copy.deepcopy(op.state_dict())
        else:
            op = Op(fn)
        x64 = x.double()
        # Backward stability: the op's computed result is the exact one for a slightly perturbed
        # input, which the identity in front of it receives.
        chain = nn.Sequential(Op(lambda v: v), op)

        def compute():
            if module is not None:
                op.load_state_dict(state)
                op.zero_grad(set_to_none=True)
            xv = x64.clone().requires_grad_(True)
            y = chain(xv)
            (y if upstream is None else (y * upstream.double()).sum()).backward()
            r = {f"Y.{name}": y.reshape(1) if upstream is None else y, f"DX.{name}": xv.grad}
            for short, attr in weights:
                r[f"D{short}.{name}"] = getattr(op, attr).grad
            if isinstance(op, nn.BatchNorm2d):
                r[f"after_running_mean.{name}"] = op.running_mean.clone()
                r[f"after_running_var.{name}"] = op.running_var.clone()
            return r

        result, sens = sensitivities(compute, chain)
        t.update(result)
        for k, v in sens.items():
            t[f"sens.{k}"] = torch.tensor([v], dtype=torch.float64)
        # No sum of one op has more terms than the larger of its input and output.
        self.reductions[name] = max(x.numel(), result[f"Y.{name}"].numel())
        for short, attr in weights:
            t[f"{short}.{name}"] = getattr(module, attr).detach().clone()

    def elementwise(self, name, fn, x, module=None, weights=()):
        """Store X, G, Y, DX (and W/B, DW/DB for the module's parameters)."""
        with torch.no_grad():  # the output's shape, on a copy so batch norm's running stats stay put
            y = (copy.deepcopy(fn) if isinstance(fn, nn.Module) else fn)(x)
        g = torch.randn(y.shape, generator=generator(self.seed[0] + 10_000))
        self.t[f"X.{name}"], self.t[f"G.{name}"] = x.detach().clone(), g
        self.run_op(name, fn, x, module, weights, g)


def ops_fixture():
    rec = OpRecorder()
    t, notes, reductions, seed = rec.t, rec.notes, rec.reductions, rec.seed
    run_op, elementwise, randn = rec.run_op, rec.elementwise, rec.randn

    x = randn(2, 3, 5, 7)
    elementwise("upsample_bilinear", lambda v: F.interpolate(v, scale_factor=2, mode="bilinear",
                                                             align_corners=False), x)
    notes["upsample_bilinear"] = "F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)"
    x = randn(2, 3, 5, 7)
    elementwise("upsample_nearest", lambda v: F.interpolate(v, scale_factor=2, mode="nearest"), x)
    notes["upsample_nearest"] = "F.interpolate(x, scale_factor=2, mode='nearest')"

    x = randn(2, 3, 6, 8)
    elementwise("avgpool2", nn.AvgPool2d(2), x)
    notes["avgpool2"] = "nn.AvgPool2d(2)"
    x = randn(2, 3, 9, 10)
    elementwise("maxpool3s2p1", nn.MaxPool2d(3, 2, 1), x)
    notes["maxpool3s2p1"] = "nn.MaxPool2d(3, stride=2, padding=1) (randn input: no ties)"

    x = randn(2, 4, 5, 6)
    elementwise("instancenorm", nn.InstanceNorm2d(4).train(), x)
    notes["instancenorm"] = "nn.InstanceNorm2d(4) (affine=False, no running stats, eps=1e-5), train mode"

    x = randn(3, 4, 5, 6)
    bn = nn.BatchNorm2d(4).train()
    elementwise("batchnorm_train", bn, x, bn, [("W", "weight"), ("B", "bias")])
    notes["batchnorm_train"] = ("nn.BatchNorm2d(4), default weight=1 bias=0, train mode, eps=1e-5, momentum=0.1; "
                                "running stats start at mean 0 var 1, running_var uses the unbiased batch var")

    x = randn(2, 4, 5, 6)
    m = nn.ConvTranspose2d(4, 5, 3, stride=2, padding=1, output_padding=1)
    elementwise("deconv_k3s2p1op1", m, x, m, [("W", "weight"), ("B", "bias")])
    notes["deconv_k3s2p1op1"] = "nn.ConvTranspose2d(4, 5, 3, stride=2, padding=1, output_padding=1); W is [Cin, Cout, kh, kw]"
    x = randn(2, 3, 4, 5)
    m = nn.ConvTranspose2d(3, 3, 2, stride=2)
    elementwise("deconv_k2s2", m, x, m, [("W", "weight"), ("B", "bias")])
    notes["deconv_k2s2"] = "nn.ConvTranspose2d(3, 3, 2, stride=2); W is [Cin, Cout, kh, kw]"

    x = randn(2, 3, 7, 9)
    m = nn.Conv2d(3, 5, 3, stride=2, padding=1)
    elementwise("conv_k3s2p1", m, x, m, [("W", "weight"), ("B", "bias")])
    notes["conv_k3s2p1"] = "nn.Conv2d(3, 5, 3, stride=2, padding=1); W is [Cout, Cin, kh, kw]"
    x = randn(2, 3, 16, 16)
    m = nn.Conv2d(3, 4, 7, 2, 3, bias=False)
    elementwise("conv_k7s2p3_nobias", m, x, m, [("W", "weight")])
    notes["conv_k7s2p3_nobias"] = "nn.Conv2d(3, 4, 7, stride=2, padding=3, bias=False)"

    x = randn(5, 7)
    elementwise("log_softmax", lambda v: F.log_softmax(v, dim=1), x)
    notes["log_softmax"] = "F.log_softmax(x, dim=1)"

    # losses: Y is the scalar loss as shape [1], DX = d loss / d x (no G)
    def loss_op(name, fn, x, target):
        t[f"X.{name}"], t[f"T.{name}"] = x.detach().clone(), target.double()
        run_op(name, fn, x, None, (), None)

    x = randn(6, 10)
    labels = torch.randint(0, 10, (6,), generator=generator(seed[0] + 20_000))
    loss_op("cross_entropy", lambda v: F.cross_entropy(v, labels), x, labels)
    notes["cross_entropy"] = "F.cross_entropy(x, T) (mean over the batch); T holds class indices as floats"
    x = randn(8, 6)
    labels = torch.arange(8) // 2
    loss_op("triplet", lambda v: batch_hard_triplet(v, labels, margin=0.3), x, labels)
    notes["triplet"] = "batch_hard_triplet(x, T, margin=0.3) from torch_workloads (cdist, hardest pos/neg, mean)"
    x = randn(3, 4)
    target = torch.randn(3, 4, generator=generator(seed[0] + 20_000))
    loss_op("mse", lambda v: F.mse_loss(v, target), x, target)
    notes["mse"] = "F.mse_loss(x, T) (mean)"

    x = randn(2, 5, 4, 3)
    elementwise("adaptive_avgpool1", lambda v: F.adaptive_avg_pool2d(v, 1), x)
    notes["adaptive_avgpool1"] = "F.adaptive_avg_pool2d(x, 1) -> [N, C, 1, 1]"

    x = randn(3, 4, 5)
    elementwise("sigmoid", torch.sigmoid, x)
    x = randn(3, 4, 5)
    elementwise("tanh", torch.tanh, x)
    x = randn(3, 4, 5)
    x = torch.sign(x) * (0.1 + x.abs())  # |x| >= 0.1: away from the kink
    elementwise("relu", F.relu, x)
    notes["relu"] = "F.relu(x), |x| >= 0.1"

    x = randn(5, 6)
    m = nn.Linear(6, 4)
    elementwise("linear", m, x, m, [("W", "weight"), ("B", "bias")])
    notes["linear"] = "nn.Linear(6, 4): Y = X W^T + B, W is [out, in]"

    return save("ops.safetensors", t,
                "per-op checks: X.<op> input (randn, seeded per op), G.<op> upstream gradient (randn), Y.<op> "
                "output, DX.<op> = d(sum(Y*G))/dX; modules also store W./B. and their grads DW./DB.; losses store "
                "the target T.<op>, Y = scalar loss [1], DX = d loss / dX (no G)",
                ops=json.dumps(notes), seeds="op i uses torch.manual_seed(100+i) for module init and its input; "
                "G uses seed 10100+i; targets/labels seed 20100+i", computed_in="float64",
                reductions=json.dumps(reductions),
                error_model="per op: lambda=10, eps=sqrt(reductions[op])*2^-24, delta=1e-7, 4 directions")


class ModulatedConv(nn.Module):
    """StyleGAN2's modulated convolution in its fused form (one grouped convolution over per-sample
    weights), the style held as a parameter so that its gradient is stored."""

    def __init__(self, cin, cout, k, batch, generator):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k, generator=generator) / 6)
        self.bias = nn.Parameter(torch.randn(cout, generator=generator))
        self.style = nn.Parameter(0.5 + torch.rand(batch, cin, generator=generator))
        self.padding = k // 2

    def forward(self, x):
        n, cin, h, w = x.shape
        wt = self.weight[None] * self.style[:, None, :, None, None]
        wt = wt * torch.rsqrt(wt.pow(2).sum(dim=[2, 3, 4]) + 1e-8)[:, :, None, None, None]
        y = F.conv2d(x.reshape(1, n * cin, h, w), wt.reshape(-1, cin, *wt.shape[3:]), padding=self.padding, groups=n)
        return y.reshape(n, -1, *y.shape[2:]) + self.bias[None, :, None, None]


def extended_ops_fixture():
    """The ops of the extended synthesis space (Sources/Synthesis/Architecture.swift), in its own file so
    that ops.safetensors stays as it was."""
    rec = OpRecorder(seed0=500)
    notes, randn = rec.notes, rec.randn

    x = randn(3, 4, 5)
    x = torch.sign(x) * (0.1 + x.abs())  # |x| >= 0.1: away from the kink
    rec.elementwise("leaky_relu", lambda v: F.leaky_relu(v, 0.2), x)
    notes["leaky_relu"] = "F.leaky_relu(x, negative_slope=0.2), |x| >= 0.1"
    x = randn(3, 4, 5) * 2
    rec.elementwise("silu", F.silu, x)
    notes["silu"] = "F.silu(x), x = 2 randn"
    x = randn(3, 4, 5) * 2
    rec.elementwise("gelu_tanh", lambda v: F.gelu(v, approximate="tanh"), x)
    notes["gelu_tanh"] = "F.gelu(x, approximate='tanh'), x = 2 randn"

    for name, groups, shape in [("groupnorm_g2", 2, (2, 8, 5, 6)), ("groupnorm_g1", 1, (2, 4, 5, 6))]:
        x = randn(*shape)
        m = nn.GroupNorm(groups, shape[1])
        with torch.no_grad():  # a non-trivial affine, so that its use in the backward pass is tested
            m.weight.copy_(0.5 + torch.rand(shape[1], generator=generator(rec.seed[0] + 30_000)))
            m.bias.copy_(torch.randn(shape[1], generator=generator(rec.seed[0] + 40_000)))
        rec.elementwise(name, m, x, m, [("W", "weight"), ("B", "bias")])
        notes[name] = (f"nn.GroupNorm({groups}, {shape[1]}), eps=1e-5, weight 0.5 + U(0, 1), bias randn"
                       + ("; one group is layer norm over (C, H, W) with a per-channel affine" if groups == 1 else ""))

    x = randn(2, 12, 3, 4)
    rec.elementwise("pixel_shuffle", nn.PixelShuffle(2), x)
    notes["pixel_shuffle"] = "nn.PixelShuffle(2): [2, 12, 3, 4] -> [2, 3, 6, 8]"

    x = randn(2, 4, 5, 6)
    m = ModulatedConv(4, 5, 3, batch=2, generator=generator(rec.seed[0] + 30_000))
    rec.elementwise("modulated_conv", m, x, m, [("W", "weight"), ("B", "bias"), ("S", "style")])
    notes["modulated_conv"] = ("StyleGAN2's modulated conv (fused form: per-sample weights W*S, demodulated by "
                               "rsqrt(sum W'^2 + 1e-8), grouped conv2d, padding 1) + B; W [5, 4, 3, 3] randn/6, "
                               "S [2, 4] = 0.5 + U(0, 1) (the style, a parameter here so that DS is stored), B randn")

    return save("ops_extended.safetensors", rec.t,
                "per-op checks of the extended synthesis space, as ops.safetensors: X.<op> input, G.<op> upstream "
                "gradient, Y.<op> output, DX.<op> = d(sum(Y*G))/dX; modules also store W./B. and DW./DB.",
                ops=json.dumps(notes), seeds="op i uses torch.manual_seed(500+i) for module init and its input; "
                "G uses seed 10500+i; group-norm affine seeds 30500+i and 40500+i; modulated conv's W, B, S "
                "seed 30500+i", computed_in="float64",
                reductions=json.dumps(rec.reductions),
                error_model="per op: lambda=10, eps=sqrt(reductions[op])*2^-24, delta=1e-7, 4 directions")


# ---------------------------------------------------------------------------------------------------------
# 4. optimizer pieces: schedules, gradient clipping, single Adam/AdamW steps

def optim_fixture():
    t = {}
    # Linear warm-up then cosine, as SequentialLR(LinearLR, CosineAnnealingLR).
    base, warmup, total, eta_min = 0.1, 5, 30, 1e-3
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=base)
    sched = torch.optim.lr_scheduler.SequentialLR(opt, [
        torch.optim.lr_scheduler.LinearLR(opt, start_factor=1 / warmup, end_factor=1.0, total_iters=warmup - 1),
        torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total - warmup, eta_min=eta_min)],
        milestones=[warmup])
    lrs = []
    for _ in range(total):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    t["warmup_cosine"] = torch.tensor(lrs, dtype=torch.float32)
    # Cosine annealing with warm restarts.
    opt = torch.optim.SGD([p], lr=base)
    sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=4, T_mult=2, eta_min=eta_min)
    lrs = []
    for _ in range(40):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    t["warm_restarts"] = torch.tensor(lrs, dtype=torch.float32)
    # Gradient-norm clipping over two tensors.
    g = torch.Generator().manual_seed(3)
    a = torch.nn.Parameter(torch.zeros(3, 4))
    b = torch.nn.Parameter(torch.zeros(5))
    a.grad = torch.randn(3, 4, generator=g)
    b.grad = torch.randn(5, generator=g)
    t["clip.grad_a"] = a.grad.clone()
    t["clip.grad_b"] = b.grad.clone()
    norm = torch.nn.utils.clip_grad_norm_([a, b], max_norm=1.0)
    t["clip.norm"] = norm.reshape(1).float()
    t["clip.clipped_a"] = a.grad.clone()
    t["clip.clipped_b"] = b.grad.clone()
    # Three Adam and AdamW steps with fixed gradients (37 elements: vector body and scalar tail).
    for name, cls, wd in [("adam", torch.optim.Adam, 0.01), ("adamw", torch.optim.AdamW, 0.05)]:
        w = torch.nn.Parameter(torch.randn(37, generator=g))
        t[f"{name}.initial"] = w.detach().clone()
        opt = cls([w], lr=0.01, weight_decay=wd)
        for step in range(3):
            w.grad = torch.randn(37, generator=g)
            t[f"{name}.grad{step}"] = w.grad.clone()
            opt.step()
        t[f"{name}.final"] = w.detach().clone()
    return save("optim.safetensors", t,
                "SequentialLR(LinearLR(start_factor=1/5, total_iters=4), CosineAnnealingLR(T_max=25, eta_min=1e-3)) "
                "from lr 0.1 over 30 steps (warmup_cosine); CosineAnnealingWarmRestarts(T_0=4, T_mult=2, "
                "eta_min=1e-3) over 40 steps (warm_restarts); clip_grad_norm_(max_norm=1) of two gradients "
                "(clip.*); three steps of Adam(lr=0.01, weight_decay=0.01) and AdamW(lr=0.01, weight_decay=0.05) "
                "on 37 elements with given gradients (adam.*, adamw.*)",
                base_lr=base, warmup=warmup, total=total, eta_min=eta_min)


class CosineMarginCE(nn.Module):
    """CosFace: cross-entropy of s * (cos(e, W) - m at the true class), e and W's rows normalised."""

    def __init__(self, d, c, labels, scale, margin, generator):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c, d, generator=generator))
        self.labels, self.scale, self.margin = labels, scale, margin

    def forward(self, e):
        cos = F.normalize(e, dim=1) @ F.normalize(self.weight, dim=1).T
        onehot = F.one_hot(self.labels, self.weight.shape[0]).to(cos.dtype)
        return F.cross_entropy(self.scale * (cos - self.margin * onehot), self.labels).reshape(1)


def training_ops_fixture():
    """Ops of the extractor's training heads (Sources/NN/Losses.swift) added after ops.safetensors, in their
    own file so that the others stay as they were."""
    rec = OpRecorder(seed0=900)
    notes, randn = rec.notes, rec.randn

    x = randn(5, 7)
    rec.elementwise("l2_normalize_rows", lambda v: F.normalize(v, dim=1), x)
    notes["l2_normalize_rows"] = "F.normalize(x, dim=1) (eps 1e-12)"

    x = randn(6, 8)
    labels = torch.randint(0, 4, (6,), generator=generator(rec.seed[0] + 20_000))
    m = CosineMarginCE(8, 4, labels, 30.0, 0.35, generator(rec.seed[0] + 30_000))
    rec.t["T.cosine_margin_ce"] = labels.double()
    rec.t["X.cosine_margin_ce"] = x.detach().clone()
    rec.run_op("cosine_margin_ce", m, x, m, [("W", "weight")], None)
    notes["cosine_margin_ce"] = ("F.cross_entropy(30 * (F.normalize(x) @ F.normalize(W).T - 0.35 * one_hot(T)), T): "
                                 "x [6, 8], W [4, 8] randn, T class indices as floats; Y is the loss as [1]")

    return save("ops_training.safetensors", rec.t,
                "per-op checks of the training heads, as ops.safetensors: X.<op> input, G.<op> upstream gradient "
                "(absent for a loss), Y.<op> output, DX.<op> = d(sum(Y*G))/dX (d loss/dX for a loss); W. and DW. "
                "for the cosine classifier's class weights",
                ops=json.dumps(notes), seeds="op i uses torch.manual_seed(900+i) for its input; G uses seed 10900+i; "
                "labels seed 20900+i; the class weights seed 30900+i", computed_in="float64",
                reductions=json.dumps(rec.reductions),
                error_model="per op: lambda=10, eps=sqrt(reductions[op])*2^-24, delta=1e-7, 4 directions")


def main():
    if torch.__version__ != PINNED_TORCH:
        print(f"warning: fixtures are pinned to torch {PINNED_TORCH}, running {torch.__version__}", file=sys.stderr)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT_DIR, exist_ok=True)
    # 110011 on 16 x 16: at 32 x 32 its ~400k ReLU inputs always put a few within rounding of zero.
    makers = {"synth_110011": lambda: synth_fixture("110011", 16), "synth_001232": lambda: synth_fixture("001232", 32),
              "resnet18_w8": resnet_fixture, "ops": ops_fixture, "ops_extended": extended_ops_fixture,
              "ops_training": training_ops_fixture, "optim": optim_fixture}
    # Names on the command line make only those files (e.g. `make_fixtures.py ops_extended`).
    wanted = sys.argv[1:] or list(makers)
    unknown = [w for w in wanted if w not in makers]
    if unknown:
        raise SystemExit(f"unknown fixture(s) {unknown}; choose from {list(makers)}")
    paths = [makers[w]() for w in wanted]
    for path in paths:
        tensors, _ = read_safetensors(path)
        digest = hashlib.sha256(open(path, "rb").read()).hexdigest()[:16]
        print(f"{os.path.relpath(path, REPO)}  {os.path.getsize(path)} bytes  sha256 {digest}...  "
              f"{len(tensors)} tensors")
        for name in sorted(tensors):
            print(f"  {name:48s} {list(tensors[name].shape)}")


if __name__ == "__main__":
    main()
