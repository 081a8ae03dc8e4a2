"""A fake webcam for Chromium: FER-2013 sample faces on a 640x480 background, as a y4m file.

Chromium's `--use-file-for-fake-video-capture=FILE.y4m` plays the file in a loop as the camera.
y4m is a one-line text header, then per frame `FRAME\\n` and the raw I420 planes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT = 640, 480
FACE_SIDE = 200


def face_frame(face_path: Path, *, background: int = 150) -> np.ndarray:
    """One 640x480 BGR frame: the 48x48 grey face upscaled to ~200 px, centred on grey."""
    face = cv2.imread(str(face_path), cv2.IMREAD_GRAYSCALE)
    if face is None:
        raise FileNotFoundError(face_path)
    face = cv2.resize(face, (FACE_SIDE, FACE_SIDE), interpolation=cv2.INTER_CUBIC)
    frame = np.full((HEIGHT, WIDTH), background, dtype=np.uint8)
    y, x = (HEIGHT - FACE_SIDE) // 2, (WIDTH - FACE_SIDE) // 2
    frame[y : y + FACE_SIDE, x : x + FACE_SIDE] = face
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)


def write_y4m(path: Path, frames: Sequence[np.ndarray], *, fps: int = 2) -> Path:
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for bgr in frames:
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path


def fake_camera(
    path: Path, sample_dir: Path, names: Sequence[str], *, seconds_each: int = 2
) -> Path:
    """A looping clip showing each named sample face (e.g. "happy_0") for a few seconds."""
    fps = 2
    frames = [face_frame(sample_dir / f"{n}.jpg") for n in names for _ in range(seconds_each * fps)]
    return write_y4m(path, frames, fps=fps)
