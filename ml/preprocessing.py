"""Image decoding and the face crop the classifier sees: eyes level, FER-2013 framing, 48x48 gray.

This is the one place that deals with colour order: OpenCV decodes to BGR, everything else in
`ml` works on RGB uint8 (H,W,3). `decode_image` (bytes) and `read_image` (path) return RGB;
`ensure_rgb` turns gray (H,W), (H,W,1) and RGBA (H,W,4) arrays into RGB.

The crop is a similarity transform: rotation levels the eyes, the eye midpoint goes where it
sits in FER-2013 faces, and the detector box is scaled to the size it has around FER-2013
faces. Those template values were measured by `python -m ml.consistency --calibrate` (detecting
upscaled FER-2013 Training faces and mapping the results back to the 48x48 grid), so the crops
share the framing the classifier was trained on. `python -m ml.consistency` checks the result.

    python -m ml.preprocessing IMAGE OUT.png   # writes the aligned 48x48 crop of the largest face
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import cv2
import numpy as np

# FER-2013 framing on the 48x48 grid, measured by `python -m ml.consistency --calibrate --n 1000`
# (885 of 1,000 upscaled Training faces detected; see ml/DETECTOR.md): the eye midpoint's median
# is (23.96, 18.56), set here with x at the grid centre; the MTCNN box's mean side has median
# 43.9 and the smallest relative spread (0.161) of the size measures tried, so it sets the scale.
FER_EYES_MID = (24.0, 18.6)
FER_BOX_SIDE = 43.9
FACE_SIZE = 48


def decode_image(data: bytes) -> np.ndarray:
    """Encoded image bytes (JPEG, PNG, WebP, BMP...) -> RGB uint8 (H,W,3). Raises ValueError."""
    array = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None:
        raise ValueError("could not decode image data")
    if array.dtype == np.uint16:  # 16-bit PNG/TIFF: keep the high byte
        array = np.right_shift(array, 8).astype(np.uint8)
    if array.ndim == 3 and array.shape[2] == 3:
        return cv2.cvtColor(array, cv2.COLOR_BGR2RGB)
    if array.ndim == 3 and array.shape[2] == 4:
        return cv2.cvtColor(array, cv2.COLOR_BGRA2RGB)
    return ensure_rgb(array)


def read_image(path: str) -> np.ndarray:
    """Image file -> RGB uint8 (H,W,3)."""
    with open(path, "rb") as f:
        return decode_image(f.read())


def ensure_rgb(image: np.ndarray) -> np.ndarray:
    """RGB uint8 (H,W,3) from gray (H,W) / (H,W,1), RGB, or RGBA (alpha dropped) arrays."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.ndim == 3 and image.shape[2] == 3:
        return np.ascontiguousarray(image)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_RGBA2RGB)
    raise ValueError(f"expected (H,W), (H,W,1), (H,W,3) or (H,W,4), got {image.shape}")


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 (H,W,3) -> gray uint8 (H,W), ITU-R 601 luma as in FER-2013's gray images."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def alignment_transform(
    landmarks: Sequence[Sequence[float]],
    box: Sequence[float],
    size: int = FACE_SIZE,
) -> np.ndarray:
    """2x3 affine matrix taking frame pixels to the aligned size x size crop.

    Rotation makes the eyes level; the eye midpoint goes to FER_EYES_MID; the detector box's
    mean side becomes FER_BOX_SIDE. The box sets the scale because it varied least against the
    true face size in the calibration (mouth-based distances change with the expression: an
    open mouth would shrink the face, an open-mouthed surprise most of all).
    """
    pts = np.asarray(landmarks, dtype=np.float64)  # (5,2): eyes, nose, mouth corners
    eyes = (pts[0] + pts[1]) / 2
    eye_vec = pts[1] - pts[0]
    angle = np.arctan2(eye_vec[1], eye_vec[0])  # roll: 0 when the eyes are level
    side = ((box[2] - box[0]) + (box[3] - box[1])) / 2
    scale = FER_BOX_SIDE / max(float(side), 1e-6) * size / FACE_SIZE
    cos, sin = np.cos(-angle) * scale, np.sin(-angle) * scale
    linear = np.array([[cos, -sin], [sin, cos]])
    shift = np.asarray(FER_EYES_MID) * size / FACE_SIZE - linear @ eyes
    return np.hstack([linear, shift[:, None]])


def align_face(
    rgb: np.ndarray,
    landmarks: Sequence[Sequence[float]],
    box: Sequence[float],
    size: int = FACE_SIZE,
) -> np.ndarray:
    """Aligned gray crop (size,size) uint8 of the face with these 5 landmarks and detector box.

    Warps at a resolution near the face's own, then area-averages down to `size`: FER-2013 faces
    were shrunk from larger photos, and plain bilinear sampling of a big face would alias.
    """
    matrix = alignment_transform(landmarks, box, size)
    scale = float(np.hypot(matrix[0, 0], matrix[0, 1]))  # output px per frame px
    factor = max(1, min(8, int(np.ceil(1.0 / max(scale, 1e-6)))))  # oversampling for large faces
    big = size * factor
    warped = cv2.warpAffine(
        to_gray(ensure_rgb(rgb)),
        matrix * factor,
        (big, big),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,  # faces near the frame edge: smear, not black bars
    )
    if factor == 1:
        return warped
    return cv2.resize(warped, (size, size), interpolation=cv2.INTER_AREA)


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    from ml.detector import MTCNNDetector

    rgb = read_image(sys.argv[1])
    faces = MTCNNDetector()(rgb)
    if not faces:
        sys.exit("no face found")
    cv2.imwrite(sys.argv[2], align_face(rgb, faces[0].landmarks, faces[0].box))


if __name__ == "__main__":
    main()
