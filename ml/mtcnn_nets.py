"""MTCNN's three networks (P-Net, R-Net, O-Net) as torch modules, with the pretrained weights.

The weights are the original MTCNN numbers (Zhang et al., "Joint Face Detection and Alignment
using Multi-task Cascaded Convolutional Networks", IEEE SPL 2016) as shipped by the `mtcnn`
package (`mtcnn/assets/weights/{pnet,rnet,onet}.lz4`). Those files are lists of float32 arrays
in Keras layout and load with `joblib` alone; `import mtcnn` would pull in TensorFlow, so we only
locate the package folder. The conversion to torch layout happens once, in `load_mtcnn_nets`.

    python -m ml.mtcnn_nets      # prints parameter counts per network (6,632 / 100,178 / 389,040)

Inputs are RGB, normalised as (pixel - 127.5) / 128, NCHW.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
from torch import nn


def mtcnn_weights_dir() -> Path:
    """The `assets/weights` folder of the installed `mtcnn` package (found without importing it)."""
    spec = importlib.util.find_spec("mtcnn")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the 'mtcnn' package is not installed; it provides the MTCNN weights")
    return Path(next(iter(spec.submodule_search_locations))) / "assets" / "weights"


class PNet(nn.Module):
    """Proposal net, fully convolutional: (N,3,H,W) -> box offsets (N,4,h,w), face prob (N,h,w).

    One output cell per 12x12 window with stride 2: h = ceil((H-2)/2) - 4.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        # Keras 'same' max-pooling pads at the end only, which is what ceil_mode does here.
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.box = nn.Conv2d(32, 4, 1)
        self.score = nn.Conv2d(32, 2, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.features(x)  # (N,32,h,w)
        return self.box(x), torch.softmax(self.score(x), dim=1)[:, 1]

    def fused_head(self) -> nn.Conv2d:
        """Box offsets and face logit in one 1x1 conv: (N,32,h,w) -> (N,5,h,w).

        A 2-way softmax is sigmoid(s1 - s0), so channel 4 holds the face logit s1 - s0; the
        detector thresholds logits and never computes a softmax over the whole map.
        """
        head = nn.Conv2d(32, 5, 1).to(self.box.weight.device)
        assert head.bias is not None and self.box.bias is not None and self.score.bias is not None
        with torch.no_grad():
            head.weight[:4] = self.box.weight
            head.bias[:4] = self.box.bias
            head.weight[4] = self.score.weight[1] - self.score.weight[0]
            head.bias[4] = self.score.bias[1] - self.score.bias[0]
        return head.requires_grad_(False)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The trunk: (N,3,H,W) -> (N,32,h,w)."""
        x = self.pool1(self.prelu1(self.conv1(x)))
        return self.prelu3(self.conv3(self.prelu2(self.conv2(x))))


class RNet(nn.Module):
    """Refine net: (N,3,24,24) -> box offsets (N,4), face prob (N,)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.fc4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.box = nn.Linear(128, 4)
        self.score = nn.Linear(128, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))  # (N,28,11,11)
        x = self.pool2(self.prelu2(self.conv2(x)))  # (N,48,4,4)
        x = self.prelu3(self.conv3(x))  # (N,64,3,3)
        # Keras flattened (N,W,H,C) after a Permute, so the dense weights expect that order.
        x = self.prelu4(self.fc4(x.permute(0, 3, 2, 1).flatten(1)))  # (N,128)
        return self.box(x), torch.softmax(self.score(x), dim=1)[:, 1]


class ONet(nn.Module):
    """Output net: (N,3,48,48) -> box offsets (N,4), landmarks (N,10: x1..x5, y1..y5), prob (N,)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.fc5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.box = nn.Linear(256, 4)
        self.landmarks = nn.Linear(256, 10)
        self.score = nn.Linear(256, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))  # (N,32,23,23)
        x = self.pool2(self.prelu2(self.conv2(x)))  # (N,64,10,10)
        x = self.pool3(self.prelu3(self.conv3(x)))  # (N,64,4,4)
        x = self.prelu4(self.conv4(x))  # (N,128,3,3)
        x = self.prelu5(self.fc5(x.permute(0, 3, 2, 1).flatten(1)))  # (N,256), (W,H,C) order
        return self.box(x), self.landmarks(x), torch.softmax(self.score(x), dim=1)[:, 1]


def _assign(net: nn.Module, arrays: list[np.ndarray]) -> None:
    """Copy Keras-ordered arrays into `net`, whose parameters are declared in the same order.

    Layer by layer Keras stores kernel, bias, then the PReLU alphas; heads come box first, which
    is also the order our modules declare them in, so a zip over parameters lines them up.
    """
    params = list(net.parameters())
    if len(params) != len(arrays):
        raise ValueError(f"{type(net).__name__}: {len(arrays)} arrays for {len(params)} tensors")
    for param, array in zip(params, arrays, strict=True):
        if array.ndim == 4:  # conv kernel HWIO -> OIHW
            value = array.transpose(3, 2, 0, 1)
        elif array.ndim == 2:  # dense kernel (in, out) -> (out, in)
            value = array.T
        else:  # bias, or PReLU alphas stored (1,1,C) for conv layers and (C,) for dense ones
            value = array.reshape(-1)
        if tuple(value.shape) != tuple(param.shape):
            raise ValueError(f"{type(net).__name__}: shape {value.shape} for {tuple(param.shape)}")
        param.data.copy_(torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32)))


def load_mtcnn_nets(device: torch.device | str = "cpu") -> tuple[PNet, RNet, ONet]:
    """The three pretrained networks in eval mode on `device`."""
    import joblib  # only needed here; keeps `import ml.mtcnn_nets` light

    folder = mtcnn_weights_dir()
    nets = (PNet(), RNet(), ONet())
    for net, name in zip(nets, ("pnet", "rnet", "onet"), strict=True):
        _assign(net, joblib.load(folder / f"{name}.lz4"))
        net.eval().requires_grad_(False).to(device)
    return nets


if __name__ == "__main__":
    for net in load_mtcnn_nets():
        print(type(net).__name__, sum(p.numel() for p in net.parameters()))
