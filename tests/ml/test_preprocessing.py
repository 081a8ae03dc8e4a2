"""Decoding (the one place colour order is handled) and the aligned FER-framed crop."""

import math

import cv2
import numpy as np
import pytest

from ml.data import default_sample_dir
from ml.detector import MTCNNDetector
from ml.preprocessing import (
    FER_BOX_SIDE,
    FER_EYES_MID,
    align_face,
    alignment_transform,
    decode_image,
    ensure_rgb,
)

SAMPLES = default_sample_dir()
needs_samples = pytest.mark.skipif(
    not SAMPLES.is_dir(), reason=f"FER-2013 samples not at {SAMPLES}"
)


def sample(name: str) -> np.ndarray:
    face = cv2.imread(str(SAMPLES / f"{name}.jpg"), cv2.IMREAD_GRAYSCALE)
    assert face is not None, name
    return face


def encode(array: np.ndarray, ext: str = ".png") -> bytes:
    ok, buf = cv2.imencode(ext, array)
    assert ok
    return buf.tobytes()


def test_decode_returns_rgb_from_opencvs_bgr():
    bgr = np.zeros((4, 6, 3), np.uint8)
    bgr[:, :, 2] = 255  # red in OpenCV's BGR order
    rgb = decode_image(encode(bgr))
    assert rgb.shape == (4, 6, 3) and rgb.dtype == np.uint8
    assert (rgb[:, :, 0] == 255).all() and (rgb[:, :, 1:] == 0).all()


def test_decode_turns_gray_and_rgba_into_rgb():
    gray = np.full((5, 7), 90, np.uint8)
    assert (decode_image(encode(gray)) == 90).all() and decode_image(encode(gray)).shape == (
        5,
        7,
        3,
    )
    bgra = np.zeros((3, 3, 4), np.uint8)
    bgra[..., 0], bgra[..., 3] = 255, 128  # blue, half transparent
    rgb = decode_image(encode(bgra))
    assert rgb.shape == (3, 3, 3) and (rgb[..., 2] == 255).all() and (rgb[..., :2] == 0).all()
    jpeg = decode_image(encode(np.full((8, 8, 3), 200, np.uint8), ".jpg"))
    assert jpeg.shape == (8, 8, 3)


def test_decode_rejects_garbage():
    with pytest.raises(ValueError):
        decode_image(b"not an image")


@pytest.mark.parametrize("shape", [(6, 4), (6, 4, 1), (6, 4, 3), (6, 4, 4)])
def test_ensure_rgb_accepts_gray_rgb_and_rgba(shape):
    out = ensure_rgb(np.full(shape, 7, np.uint8))
    assert out.shape == (6, 4, 3) and (out == 7).all()


def test_ensure_rgb_rejects_other_arrays():
    with pytest.raises(ValueError):
        ensure_rgb(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError):
        ensure_rgb(np.zeros((4, 4, 2), np.uint8))


def test_alignment_levels_the_eyes_and_puts_them_on_the_template():
    # Eyes rolled by 20 degrees around (100, 100); a 88 px detector box.
    angle = math.radians(20)
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    upright = np.array([[80, 90], [120, 90], [100, 105], [85, 125], [115, 125]], float)
    marks = (upright - 100) @ rot.T + 100
    m = alignment_transform(marks, (56, 56, 144, 144))
    out = marks @ m[:, :2].T + m[:, 2]
    assert out[0, 1] == pytest.approx(out[1, 1], abs=1e-6)  # eyes level
    assert (out[0] + out[1]) / 2 == pytest.approx(FER_EYES_MID, abs=1e-6)
    assert np.hypot(*m[:, 0]) == pytest.approx(FER_BOX_SIDE / 88)  # box side -> template side


def paste(face48: np.ndarray, size: int, at: tuple[int, int], angle: float = 0.0) -> np.ndarray:
    """A 480x640 RGB frame with the face upscaled to `size`, rolled by `angle` degrees."""
    frame: np.ndarray = np.full((480, 640), 120, np.uint8)
    x, y = at
    frame[y : y + size, x : x + size] = cv2.resize(
        face48, (size, size), interpolation=cv2.INTER_CUBIC
    )
    if angle:
        m = cv2.getRotationMatrix2D((x + size / 2, y + size / 2), angle, 1.0)
        frame = cv2.warpAffine(frame, m, (640, 480), flags=cv2.INTER_LINEAR, borderValue=120)
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)


def roll_degrees(landmarks) -> float:
    (lx, ly), (rx, ry) = landmarks[0], landmarks[1]
    return math.degrees(math.atan2(ry - ly, rx - lx))


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.astype(float).ravel(), b.astype(float).ravel())[0, 1])


@needs_samples
@pytest.mark.parametrize("name", ["happy_3", "neutral_0", "surprise_1"])  # near-frontal faces
def test_a_face_rolled_by_20_degrees_is_measured_and_straightened(name):
    face = sample(name)
    detector = MTCNNDetector(device="cpu")
    straight, rolled = paste(face, 180, (200, 120)), paste(face, 180, (200, 120), angle=20)
    [a], [b] = detector.detect([straight, rolled])
    # cv2 turns positive angles counter-clockwise on screen: the right eye rises (y shrinks).
    assert roll_degrees(b.landmarks) - roll_degrees(a.landmarks) == pytest.approx(-20, abs=5)
    crop_a, crop_b = (
        align_face(straight, a.landmarks, a.box),
        align_face(rolled, b.landmarks, b.box),
    )
    assert crop_a.shape == crop_b.shape == (48, 48) and crop_b.dtype == np.uint8
    # The rolled face comes out like the upright one (centres: the corners hold the background).
    assert similarity(crop_a[8:40, 8:40], crop_b[8:40, 8:40]) > 0.9


@needs_samples
def test_the_crop_of_an_upscaled_fer_face_is_closest_to_its_own_original():
    detector = MTCNNDetector(device="cpu")
    names = ["angry_0", "happy_3", "neutral_0", "fear_3", "surprise_1", "surprise_2"]
    faces = [sample(n) for n in names]
    frames = [paste(face, 200, (300, 200)) for face in faces]
    for i, (frame, found) in enumerate(zip(frames, detector.detect(frames), strict=True)):
        crop = align_face(frame, found[0].landmarks, found[0].box)
        scores = [similarity(crop, other) for other in faces]
        assert int(np.argmax(scores)) == i
