#!/usr/bin/env python3
"""Writes PyTorch-exported ONNX fixtures for hawq-onnx's import tests.

A small ResNet-20-style CIFAR network in plain torch (3x32x32 input, 10 classes, 1x1-conv
shortcuts, `x.reshape(x.shape[0], -1)` before the classifier so the export contains the
Shape/Gather/Unsqueeze/Concat chain), seeded random weights and non-trivial BatchNorm
statistics, exported twice with torch.onnx.export (TorchScript exporter, dynamic batch):

  torch_resnet20_bn.onnx      BatchNormalization nodes kept (do_constant_folding=False,
                              TrainingMode.PRESERVE on an eval-mode model)
  torch_resnet20_folded.onnx  exporter-folded (eval, do_constant_folding=True): no BN nodes

plus torch_resnet20_input.npy (batch 2) and torch_resnet20_output.npy (torch's logits for it).
Run from the repository root:  python3 crates/hawq-onnx/scripts/export_torch_fixtures.py
"""
import os
import sys

import numpy as np
import onnx
import torch
from torch import nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data")


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        s = x if self.shortcut is None else self.shortcut(x)
        return torch.relu(y + s)


class ResNet20(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        blocks, cin = [], 16
        for cout, stride in [(16, 1), (32, 2), (64, 2)]:
            for i in range(3):
                blocks.append(Block(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.pool(self.blocks(x))
        return self.fc(x.reshape(x.shape[0], -1))


def randomize_bn(model, gen):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.weight.data = torch.rand(c, generator=gen) + 0.5
            m.bias.data = torch.rand(c, generator=gen) * 0.4 - 0.2
            m.running_mean.data = torch.rand(c, generator=gen) * 0.4 - 0.2
            m.running_var.data = torch.rand(c, generator=gen) * 1.5 + 0.5


def export(model, x, path, keep_bn):
    kwargs = dict(
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
        opset_version=17,
        dynamo=False,
    )
    if keep_bn:
        kwargs.update(do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)
    else:
        kwargs.update(do_constant_folding=True, training=torch.onnx.TrainingMode.EVAL)
    torch.onnx.export(model, (x,), path, **kwargs)
    ops = [n.op_type for n in onnx.load(path).graph.node]
    has_bn = "BatchNormalization" in ops
    if has_bn != keep_bn:
        sys.exit(f"{path}: expected BatchNormalization {'kept' if keep_bn else 'folded'}, ops {sorted(set(ops))}")
    size = os.path.getsize(path)
    if size >= 2 << 20:
        sys.exit(f"{path}: {size} bytes, over the 2 MB fixture limit")
    print(f"{path}: {size} bytes, {len(ops)} nodes, BN kept: {has_bn}")


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    model = ResNet20()
    randomize_bn(model, gen)
    model.eval()
    x = torch.rand(2, 3, 32, 32, generator=gen) * 2 - 1
    with torch.no_grad():
        y = model(x)
    os.makedirs(OUT, exist_ok=True)
    export(model, x, os.path.join(OUT, "torch_resnet20_bn.onnx"), keep_bn=True)
    export(model, x, os.path.join(OUT, "torch_resnet20_folded.onnx"), keep_bn=False)
    np.save(os.path.join(OUT, "torch_resnet20_input.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(OUT, "torch_resnet20_output.npy"), y.numpy().astype(np.float32))
    print(f"torch {torch.__version__}, onnx {onnx.__version__}")


if __name__ == "__main__":
    main()
