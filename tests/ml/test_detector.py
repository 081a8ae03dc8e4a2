"""MTCNN detector: parity with the reference `mtcnn` package, batching, odd inputs.

The fixture (tests/ml/fixtures/mtcnn_reference.json and its PNG frames) was produced by the
reference package with TensorFlow: `ml/tools/make_mtcnn_fixture.py`.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ml.boxes import apply_affine, nms, view_of
from ml.detector import FaceBox, MTCNNDetector, pyramid_scales
from ml.mtcnn_nets import load_mtcnn_nets
from ml.preprocessing import read_image

FIXTURES = Path(__file__).parent / "fixtures"
REFERENCE = json.loads((FIXTURES / "mtcnn_reference.json").read_text())["images"]
NOISE_SEED = 1234  # as in ml/tools/make_mtcnn_fixture.py


def fixture_frame(name: str) -> np.ndarray:
    if name.startswith("noise:"):
        return np.random.default_rng(int(name.split(":")[1])).integers(
            0, 256, (240, 320, 3), dtype=np.uint8
        )
    return read_image(str(FIXTURES / "mtcnn" / name))


def iou(a, b) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.fixture(scope="module")
def detector() -> MTCNNDetector:
    return MTCNNDetector(device="cpu")


def test_weights_convert_to_the_published_parameter_counts():
    counts = [sum(p.numel() for p in net.parameters()) for net in load_mtcnn_nets()]
    assert counts == [6632, 100178, 389040]


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_detections_match_the_reference_package(detector, name):
    expected = REFERENCE[name]
    found = detector(fixture_frame(name))
    assert len(found) == len(expected)
    for ref in expected:
        best = max(found, key=lambda f: iou(f.box, ref["box"]))
        assert iou(best.box, ref["box"]) >= 0.9
        assert np.abs(np.asarray(best.landmarks) - np.asarray(ref["landmarks"])).max() <= 3.0
        assert best.score == pytest.approx(ref["score"], abs=0.02)


def test_the_fixture_holds_faces_and_a_faceless_frame():
    assert sum(len(faces) for faces in REFERENCE.values()) >= 5
    assert REFERENCE[f"noise:{NOISE_SEED}"] == []


def test_frames_detected_together_give_the_same_faces_as_one_by_one(detector):
    frames = [fixture_frame(name) for name in sorted(REFERENCE)]  # mixed sizes
    frames.append(frames[0][:, ::-1].copy())  # same size as frames[0]: shares its P-Net batch
    together = MTCNNDetector(device="cpu", frames_per_pass=8).detect(frames)  # GPU-style batching
    for frame, faces in zip(frames, together, strict=True):
        alone = detector(frame)
        assert len(alone) == len(faces)
        for a, b in zip(alone, faces, strict=True):
            assert np.allclose(a.box, b.box, atol=1e-3)
            assert np.allclose(a.landmarks, b.landmarks, atol=1e-3)


def test_faces_come_largest_first_with_five_landmarks_inside_the_box(detector):
    faces = detector(fixture_frame("small_faces.png"))
    assert [f.area for f in faces] == sorted((f.area for f in faces), reverse=True)
    for face in faces:
        assert isinstance(face, FaceBox) and len(face.landmarks) == 5
        (lx, _), (rx, _) = face.landmarks[0], face.landmarks[1]
        assert lx < rx  # "left eye" is the one on the image's left
        for x, y in face.landmarks:
            assert face.box[0] <= x <= face.box[2] and face.box[1] <= y <= face.box[3]


def test_max_faces_keeps_the_largest(detector):
    one = MTCNNDetector(device="cpu", max_faces=1)(fixture_frame("small_faces.png"))
    assert len(one) == 1 and one[0].box == detector(fixture_frame("small_faces.png"))[0].box


def test_blank_noise_and_tiny_frames_have_no_face(detector):
    blank = np.full((480, 640, 3), 127, np.uint8)
    noise = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    tiny = np.full((5, 5, 3), 200, np.uint8)
    assert detector.detect([blank, noise, tiny]) == [[], [], []]
    assert detector.detect([]) == []


def test_gray_and_rgba_frames_are_accepted(detector):
    rgb = fixture_frame("two_faces.png")
    gray = rgb.mean(axis=2).astype(np.uint8)
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    assert len(detector(gray)) == len(detector(gray[:, :, None])) == 1
    assert detector(rgba)[0].box == detector(rgb)[0].box


def test_huge_frames_are_downscaled_for_detection_and_mapped_back(detector):
    small = fixture_frame("astronaut.png")  # 256x256, one face
    huge = np.kron(small, np.ones((12, 12, 1), np.uint8))[:3000, :3000]  # 12x upscale, 3000x3000
    [face] = detector(huge)
    [ref] = detector(small)
    assert iou(face.box, [v * 12 for v in ref.box]) >= 0.8


def test_pyramid_stops_before_levels_smaller_than_the_window():
    scales = pyramid_scales(480, 640, 40, 0.709)
    assert scales[0] == pytest.approx(0.3)
    assert all(480 * s >= 12 for s in scales) and 480 * scales[-1] * 0.709 < 12


@pytest.mark.parametrize("degrees", [0.0, 20.0, -40.0])
@pytest.mark.parametrize("mirror", [False, True])
def test_a_view_maps_its_pixels_back_onto_the_frame(degrees, mirror):
    frame = np.zeros((60, 80, 3), np.uint8)
    frame[10, 70] = 255  # one lit pixel near the top-right corner
    canvas, inverse = view_of(frame, degrees, mirror)
    y, x = np.unravel_index(np.argmax(canvas[..., 0]), canvas.shape[:2])
    back = apply_affine(inverse, np.array([[x, y]], dtype=np.float64))[0]
    assert np.abs(back - [70, 10]).max() <= 1.0
    if mirror and not degrees:
        assert x == 80 - 1 - 70  # a plain mirror moves the pixel to the other side


@pytest.mark.parametrize("view", [(0.0, True), (20.0, False), (-20.0, True), (40.0, True)])
def test_a_face_found_in_a_turned_or_mirrored_view_lands_on_the_upright_detection(detector, view):
    frame = fixture_frame("astronaut.png")
    [upright] = detector(frame)
    retry = MTCNNDetector(retry_views=(view,), retry_min_score=0.5, device="cpu")
    [[(box, score, marks)]] = retry._retry([frame])  # the retry step on its own
    assert score >= 0.5
    assert iou(box, upright.box) >= 0.8
    # Same points within 5% of the face, and still named as seen: left eye / mouth corner left.
    assert np.abs(marks - np.asarray(upright.landmarks)).max() <= 0.05 * upright.width
    assert marks[0][0] < marks[1][0] and marks[3][0] < marks[4][0]


def test_the_retry_only_runs_on_frames_without_a_face_and_keeps_confident_faces(detector):
    frames = [fixture_frame("astronaut.png"), fixture_frame("noise:1234")]
    plain = detector.detect(frames)
    retrying = MTCNNDetector(
        retry_views=((0.0, True), (20.0, False)), retry_min_score=0.99, device="cpu"
    ).detect(frames)
    assert [f.box for f in retrying[0]] == [f.box for f in plain[0]]  # found upright: unchanged
    assert all(f.score >= 0.99 for f in retrying[1])  # retried: only confident faces


def test_nms_drops_boxes_overlapping_a_higher_score_per_frame_only():
    boxes = torch.tensor(
        [[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [50, 50, 60, 60]], dtype=torch.float32
    )
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    ids = torch.tensor([0, 0, 1, 0])
    assert nms(boxes, scores, ids, 0.5, "union").tolist() == [0, 2, 3]


def test_frames_are_normalised_exactly_as_the_nets_were_trained() -> None:
    from ml.detector import normalise

    frame = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    out = normalise(frame)
    assert out.dtype == np.float32 and out.shape == frame.shape
    assert np.array_equal(out, (frame.astype(np.float32) - 127.5) / 128.0)
