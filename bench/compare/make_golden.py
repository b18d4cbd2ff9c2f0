"""Golden values from PyTorch for tests/engine_golden.cpp: forward outputs and
gradients of small LSTM, conv1d, conv_transpose1d, instance-norm and
batch-norm layers with fixed inputs, written as JSON under tests/golden/.

Run by hand (never by the build or the tests), then commit the JSON:

    bench/compare/.venv/bin/python bench/compare/make_golden.py [--out tests/golden]

Every input, weight and loss weight comes from numpy's seeded generator and is
written into the JSON beside the results, so the C++ test reads exactly the
numbers PyTorch saw. Everything is computed in float64. The loss of a case is
sum over its outputs of sum(output * loss weight), a fixed random weight per
output element, so every output element has its own gradient.

File layout (one file per op):
    {"op": str, "torch": version, "cases": [{
        "name": str, "params": {...},
        "inputs": {name: {"shape": [...], "data": [...]}},        row-major
        "loss_weights": {output name: tensor},
        "outputs": {output name: tensor},
        "grads": {input name: tensor}}]}

Conventions mapped to musicgen's (autograd/ops.h):
    LSTM   x [T, B, I] time-major, gate order i, f, g, o in both. PyTorch has
           two biases; musicgen one, b = b_ih + b_hh (its gradient equals
           either of theirs). Outputs hs [T, B, H] and the final c [B, H].
    conv1d Conv1dOptions{stride, pad_left, pad_right, dilation}: asymmetric
           padding is F.pad before an unpadded convolution.
    conv_transpose1d weight [Cin, Cout, K] in both.
    norms  x [N, C, L]; batch norm in training mode also writes the running
           statistics after one update from the given starting values.
"""
import argparse
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def tensor_json(t):
    t = t.detach().to(torch.float64).contiguous()
    return {"shape": list(t.shape), "data": [float(v) for v in t.reshape(-1).tolist()]}


class Case:
    """Draws inputs from one seeded stream and records a case."""

    def __init__(self, name, seed, **params):
        self.name, self.params = name, params
        self.rng = np.random.default_rng(seed)
        self.inputs = {}

    def draw(self, name, shape, lo=-1.0, hi=1.0):
        t = torch.tensor(self.rng.uniform(lo, hi, size=shape), dtype=torch.float64, requires_grad=True)
        self.inputs[name] = t
        return t

    def finish(self, outputs, params=None):
        """outputs: {name: tensor}. Backward of sum(output * weight) over all
        outputs. params: {input name: module parameter} for inputs that were
        copied into a module, whose gradient is then the parameter's."""
        params = params or {}
        weights = {k: torch.tensor(self.rng.uniform(-1.0, 1.0, size=tuple(v.shape)), dtype=torch.float64)
                   for k, v in outputs.items()}
        loss = sum((outputs[k] * weights[k]).sum() for k in outputs)
        loss.backward()
        return {
            "name": self.name,
            "params": self.params,
            "inputs": {k: tensor_json(v) for k, v in self.inputs.items()},
            "loss_weights": {k: tensor_json(v) for k, v in weights.items()},
            "outputs": {k: tensor_json(v) for k, v in outputs.items()},
            "grads": {k: tensor_json(params.get(k, v).grad) for k, v in self.inputs.items()},
        }


def lstm_case(name, seed, T, B, I, H):
    c = Case(name, seed, T=T, B=B, I=I, H=H)
    x = c.draw("x", (T, B, I))
    w_ih = c.draw("w_ih", (4 * H, I))
    w_hh = c.draw("w_hh", (4 * H, H))
    b = c.draw("b", (4 * H,))
    h0 = c.draw("h0", (B, H))
    c0 = c.draw("c0", (B, H))
    lstm = torch.nn.LSTM(I, H).double()
    # b split over PyTorch's two biases with a nonzero b_hh: musicgen's one
    # bias is their sum, and its gradient equals either one's.
    b_hh = torch.linspace(-0.3, 0.3, 4 * H, dtype=torch.float64)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(w_ih)
        lstm.weight_hh_l0.copy_(w_hh)
        lstm.bias_ih_l0.copy_(b - b_hh)
        lstm.bias_hh_l0.copy_(b_hh)
    hs, (_, c_n) = lstm(x, (h0.unsqueeze(0), c0.unsqueeze(0)))
    case = c.finish({"hs": hs, "c": c_n.squeeze(0)},
                    {"w_ih": lstm.weight_ih_l0, "w_hh": lstm.weight_hh_l0, "b": lstm.bias_ih_l0})
    assert torch.allclose(lstm.bias_ih_l0.grad, lstm.bias_hh_l0.grad, rtol=0, atol=1e-14)
    return case


def conv1d_case(name, seed, B, Cin, Cout, L, K, stride, pad_left, pad_right, dilation, bias):
    c = Case(name, seed, stride=stride, pad_left=pad_left, pad_right=pad_right, dilation=dilation, bias=bias)
    x = c.draw("x", (B, Cin, L))
    w = c.draw("weight", (Cout, Cin, K))
    b = c.draw("bias", (Cout,)) if bias else None
    y = F.conv1d(F.pad(x, (pad_left, pad_right)), w, b, stride=stride, dilation=dilation)
    return c.finish({"y": y})


def conv_transpose1d_case(name, seed, B, Cin, Cout, L, K, stride, padding, output_padding, dilation, bias):
    c = Case(name, seed, stride=stride, padding=padding, output_padding=output_padding, dilation=dilation, bias=bias)
    x = c.draw("x", (B, Cin, L))
    w = c.draw("weight", (Cin, Cout, K))
    b = c.draw("bias", (Cout,)) if bias else None
    y = F.conv_transpose1d(x, w, b, stride=stride, padding=padding, output_padding=output_padding,
                           dilation=dilation)
    return c.finish({"y": y})


def instance_norm_case(name, seed, N, C, L, eps, affine):
    c = Case(name, seed, eps=eps, affine=affine)
    x = c.draw("x", (N, C, L), -2.0, 3.0)
    w = c.draw("weight", (C,), 0.5, 1.5) if affine else None
    b = c.draw("bias", (C,)) if affine else None
    y = F.instance_norm(x, weight=w, bias=b, use_input_stats=True, eps=eps)
    return c.finish({"y": y})


def batch_norm_case(name, seed, N, C, L, eps, momentum):
    c = Case(name, seed, eps=eps, momentum=momentum)
    x = c.draw("x", (N, C, L), -2.0, 3.0)
    w = c.draw("weight", (C,), 0.5, 1.5)
    b = c.draw("bias", (C,))
    running_mean = torch.tensor(c.rng.uniform(-0.5, 0.5, size=C), dtype=torch.float64)
    running_var = torch.tensor(c.rng.uniform(0.5, 2.0, size=C), dtype=torch.float64)
    start_mean, start_var = running_mean.clone(), running_var.clone()
    y = F.batch_norm(x, running_mean, running_var, w, b, training=True, momentum=momentum, eps=eps)
    case = c.finish({"y": y})
    case["running"] = {"mean_before": tensor_json(start_mean), "var_before": tensor_json(start_var),
                       "mean_after": tensor_json(running_mean), "var_after": tensor_json(running_var)}
    return case


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=os.path.join(ROOT, "tests", "golden"))
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_default_dtype(torch.float64)

    files = {
        # Hidden sizes not multiples of 8 (a vector's width); batch 3 takes the
        # per-step path on the CPU, batch 5 the fused layer kernel.
        "lstm": [lstm_case("batch 3, hidden 5", 1, T=4, B=3, I=3, H=5),
                 lstm_case("batch 5, hidden 6", 2, T=3, B=5, I=4, H=6)],
        "conv1d": [
            conv1d_case("padding 1", 11, B=2, Cin=3, Cout=4, L=9, K=3, stride=1, pad_left=1, pad_right=1,
                        dilation=1, bias=True),
            conv1d_case("stride 2, padding 2", 12, B=2, Cin=3, Cout=2, L=10, K=4, stride=2, pad_left=2, pad_right=2,
                        dilation=1, bias=True),
            conv1d_case("dilation 2, no bias", 13, B=1, Cin=2, Cout=3, L=11, K=3, stride=1, pad_left=2,
                        pad_right=2, dilation=2, bias=False),
            conv1d_case("asymmetric padding, stride 2 (Keras same)", 14, B=2, Cin=2, Cout=3, L=9, K=4, stride=2,
                        pad_left=1, pad_right=2, dilation=1, bias=True),
        ],
        "conv_transpose1d": [
            conv_transpose1d_case("stride 2, padding 1, output_padding 1", 21, B=2, Cin=3, Cout=4, L=5, K=3,
                                  stride=2, padding=1, output_padding=1, dilation=1, bias=True),
            conv_transpose1d_case("stride 2, kernel 4, padding 1 (the decoder's)", 22, B=2, Cin=3, Cout=2, L=6, K=4,
                                  stride=2, padding=1, output_padding=0, dilation=1, bias=True),
            conv_transpose1d_case("stride 3, dilation 2, output_padding 2, no bias", 23, B=1, Cin=2, Cout=3, L=4,
                                  K=3, stride=3, padding=0, output_padding=2, dilation=2, bias=False),
        ],
        "instance_norm1d": [
            instance_norm_case("affine, eps 1e-3", 31, N=2, C=3, L=7, eps=1e-3, affine=True),
            instance_norm_case("no affine, eps 1e-5", 32, N=3, C=2, L=5, eps=1e-5, affine=False),
        ],
        "batch_norm1d": [
            batch_norm_case("training, eps 1e-3", 41, N=4, C=3, L=5, eps=1e-3, momentum=0.1),
            batch_norm_case("training, batch 1, eps 1e-5", 42, N=1, C=2, L=6, eps=1e-5, momentum=0.3),
        ],
    }
    for op, cases in files.items():
        path = os.path.join(args.out, op + ".json")
        with open(path, "w") as f:
            json.dump({"op": op, "torch": torch.__version__.split("+")[0], "cases": cases}, f, separators=(",", ":"))
            f.write("\n")
        print(f"wrote {path}: {len(cases)} cases, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
