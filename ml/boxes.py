"""Box arithmetic for the MTCNN cascade, vectorised in torch (CPU or CUDA; no torchvision here).

Boxes are float tensors (N,4) of x1, y1, x2, y2 in pixels, with an int64 image index (N,) beside
them so that the candidates of many frames travel through the cascade together. The rules follow
the `mtcnn` 1.0.0 reference exactly (its parity fixture checks us), including its NMS: a box is
dropped when it overlaps *any* higher-scored box of the same image by more than the threshold,
whether or not that box survived itself. Also the turned and mirrored views of
the detector's retry (numpy/OpenCV). Used by ml/detector.py; no command of its own.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

# Rows of the IoU matrix computed at once: bounds memory at CHUNK x N floats when a noisy frame
# yields tens of thousands of P-Net candidates.
CHUNK = 2048


def nms(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    image_ids: torch.Tensor,
    threshold: float,
    method: str,
) -> torch.Tensor:
    """Indices of kept boxes, highest score first. method: 'union' (IoU) or 'min' (IoMin)."""
    n = boxes.shape[0]
    if n == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    order = torch.argsort(scores, descending=True, stable=True)
    b = boxes[order].double()
    # Shift every image into its own region so boxes of different frames never overlap.
    span = float(b.abs().max()) * 2 + 1
    b = b + (image_ids[order].double() * span)[:, None]
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # the reference does not add 1 here
    suppressed = torch.zeros(n, dtype=torch.bool, device=boxes.device)
    idx = torch.arange(n, device=boxes.device)
    for start in range(0, n, CHUNK):
        j = b[start : start + CHUNK]  # (C,4) candidates
        iw = (
            torch.minimum(j[:, None, 2], b[None, :, 2])
            - torch.maximum(j[:, None, 0], b[None, :, 0])
        ).clamp(min=0)
        ih = (
            torch.minimum(j[:, None, 3], b[None, :, 3])
            - torch.maximum(j[:, None, 1], b[None, :, 1])
        ).clamp(min=0)
        inter = iw * ih  # (C,N)
        a_j = area[start : start + CHUNK, None]
        if method == "union":
            overlap = inter / (a_j + area[None, :] - inter)
        elif method == "min":
            overlap = inter / torch.minimum(a_j, area[None, :])
        else:
            raise ValueError(f"unknown NMS method {method!r}")
        earlier = idx[None, :] < idx[start : start + CHUNK, None]  # only higher-scored boxes count
        suppressed[start : start + CHUNK] = ((overlap > threshold) & earlier).any(dim=1)
    return order[~suppressed]


def to_square(boxes: torch.Tensor) -> torch.Tensor:
    """Grow each box to a square around its centre (side = the longer side). (N,4) -> (N,4)."""
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = torch.maximum(w, h)
    x1 = boxes[:, 0] + w * 0.5 - side * 0.5
    y1 = boxes[:, 1] + h * 0.5 - side * 0.5
    return torch.stack([x1, y1, x1 + side, y1 + side], dim=1)


def apply_offsets(boxes: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Calibrate boxes with regressed offsets, given in units of the box size (+1 as in MTCNN)."""
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    return boxes + offsets * torch.stack([w, h, w, h], dim=1)


def crop_and_resize(
    flat_images: torch.Tensor,
    image_meta: torch.Tensor,
    boxes: torch.Tensor,
    image_ids: torch.Tensor,
    size: int,
) -> torch.Tensor:
    """Bilinear crops, like TensorFlow's crop_and_resize that the reference uses. -> (N,3,S,S).

    flat_images: (sum H*W, 3) normalised pixels of all frames, row-major one after the other;
    image_meta: (F,3) int64 rows of (offset into flat_images, H, W). Sampling points outside the
    frame read 0 (a mid-grey in normalised units). The reference divides box coordinates by W
    (not W-1) before TF maps them back with W-1; we keep that quirk for identical patches.
    """
    meta = image_meta[image_ids]  # (N,3)
    offset, h, w = meta[:, 0], meta[:, 1].to(boxes.dtype), meta[:, 2].to(boxes.dtype)
    steps = torch.arange(size, device=boxes.device, dtype=boxes.dtype) / (size - 1)  # (S,)
    ys = (
        boxes[:, 1, None] / h[:, None]
        + steps * (boxes[:, 3, None] - boxes[:, 1, None]) / h[:, None]
    ) * (h[:, None] - 1)  # (N,S)
    xs = (
        boxes[:, 0, None] / w[:, None]
        + steps * (boxes[:, 2, None] - boxes[:, 0, None]) / w[:, None]
    ) * (w[:, None] - 1)  # (N,S)
    inside = ((ys >= 0) & (ys <= h[:, None] - 1))[:, :, None] & (
        (xs >= 0) & (xs <= w[:, None] - 1)
    )[:, None, :]
    ys = ys.clamp(min=0)
    xs = xs.clamp(min=0)
    y0, x0 = ys.floor(), xs.floor()
    y1 = torch.minimum(ys.ceil(), h[:, None] - 1)
    x1 = torch.minimum(xs.ceil(), w[:, None] - 1)
    y0 = torch.minimum(y0, h[:, None] - 1)
    x0 = torch.minimum(x0, w[:, None] - 1)
    wy, wx = (ys - y0)[:, :, None, None], (xs - x0)[:, None, :, None]  # (N,S,1,1), (N,1,S,1)
    wl = w.long()[:, None, None]
    base = offset[:, None, None]

    def gather(yy: torch.Tensor, xx: torch.Tensor) -> torch.Tensor:
        index = base + yy.long()[:, :, None] * wl + xx.long()[:, None, :]  # (N,S,S)
        return flat_images[index]  # (N,S,S,3)

    top = gather(y0, x0) + (gather(y0, x1) - gather(y0, x0)) * wx
    bottom = gather(y1, x0) + (gather(y1, x1) - gather(y1, x0)) * wx
    patches = (top + (bottom - top) * wy) * inside[..., None]
    return patches.permute(0, 3, 1, 2)  # (N,3,S,S) in channels_last memory, as the nets prefer


def view_of(frame: np.ndarray, degrees: float, mirror: bool) -> tuple[np.ndarray, np.ndarray]:
    """The frame mirrored left-right (when `mirror`), then turned by `degrees` on a canvas that
    holds all of it; and the 2x3 matrix mapping canvas pixels back to frame pixels."""
    h, w = frame.shape[:2]
    flip = np.array([[-1.0, 0.0, w - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    if not degrees:
        canvas = np.ascontiguousarray(frame[:, ::-1]) if mirror else frame
        return canvas, (flip if mirror else np.eye(3))[:2].copy()  # a mirror is its own inverse
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    out_w, out_h = int(np.ceil(h * sin + w * cos)), int(np.ceil(h * cos + w * sin))
    m[:, 2] += [(out_w - w) / 2, (out_h - h) / 2]
    if mirror:
        m = m @ flip
    canvas = cv2.warpAffine(
        frame, m, (out_w, out_h), flags=cv2.INTER_LINEAR, borderValue=(127, 127, 127)
    )
    return canvas, cv2.invertAffineTransform(m)


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def unrotate_box(box: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """A box found in a rotated canvas, back in the frame: same size, centre mapped back (the
    face's extent, not the larger axis-aligned hull of the turned square)."""
    centre = apply_affine(inverse, ((box[:2] + box[2:]) / 2)[None])[0]
    half = (box[2:] - box[:2]) / 2
    return np.concatenate([centre - half, centre + half])
