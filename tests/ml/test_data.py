"""Data loaders for the three FER-2013 layouts, augmentation, class weights and TTA views."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from ml.data import AugmentConfig, augment, class_weights, load_csv, load_image_folder, load_npz
from ml.emotions import EMOTIONS
from ml.evaluate import shift, tta_views


def test_npz_splits_follow_the_usage_column(npz_path):
    splits = load_npz(npz_path)
    assert {k: len(v) for k, v in splits.items()} == {
        "train": 28709,
        "public": 3589,
        "private": 3589,
    }
    for s in splits.values():
        assert s.images.dtype == np.uint8 and s.images.shape[1:] == (48, 48)
        assert s.labels.max() == 6 and s.ferplus is not None
    assert np.bincount(splits["private"].labels).tolist() == [491, 55, 528, 879, 594, 416, 626]


def test_missing_npz_names_the_env_var(tmp_path):
    with pytest.raises(FileNotFoundError, match="FER2013_NPZ"):
        load_npz(tmp_path / "missing.npz")


def test_original_csv_layout(tmp_path):
    rows = ["emotion,pixels,Usage"]
    for i, usage in enumerate(["Training", "Training", "PublicTest", "PrivateTest"]):
        rows.append(f"{i % 7},{' '.join(str((i + j) % 256) for j in range(48 * 48))},{usage}")
    (tmp_path / "fer2013.csv").write_text("\n".join(rows) + "\n")
    splits = load_csv(tmp_path / "fer2013.csv")
    assert [len(splits[s]) for s in ("train", "public", "private")] == [2, 1, 1]
    assert splits["train"].images.shape == (2, 48, 48)
    assert splits["train"].images[1, 0, 0] == 1 and splits["private"].labels.tolist() == [3]


def test_class_folder_and_flat_layouts(tmp_path):
    face = np.full((48, 48), 128, np.uint8)
    for emotion in ("happy", "sad"):
        (tmp_path / "tree" / emotion).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / "tree" / emotion / "a.jpg"), face)
    (tmp_path / "flat").mkdir()
    cv2.imwrite(str(tmp_path / "flat" / "fear_0.jpg"), np.zeros((96, 96), np.uint8))
    tree = load_image_folder(tmp_path / "tree")
    assert sorted(EMOTIONS[y] for y in tree.labels) == ["happy", "sad"]
    flat = load_image_folder(tmp_path / "flat")
    assert flat.images.shape == (1, 48, 48) and EMOTIONS[flat.labels[0]] == "fear"


def test_sample_images_load_with_their_labels(sample_dir):
    split = load_image_folder(sample_dir)
    assert split.images.shape == (70, 48, 48)
    assert np.bincount(split.labels).tolist() == [10] * 7


def test_augmentation_keeps_shape_and_dtype():
    x = torch.randn(32, 1, 48, 48)
    gen = torch.Generator().manual_seed(0)
    y = augment(x, AugmentConfig(), gen)
    assert y.shape == x.shape and y.dtype == x.dtype and not torch.equal(x, y)
    assert augment(x[:0], AugmentConfig()).shape == (0, 1, 48, 48)


def test_augmentation_is_reproducible_with_a_generator():
    x = torch.randn(8, 1, 48, 48)
    a = augment(x, AugmentConfig(), torch.Generator().manual_seed(3))
    b = augment(x, AugmentConfig(), torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_flip_only_augmentation_mirrors_the_image():
    x = torch.randn(4, 1, 48, 48)
    cfg = AugmentConfig(flip=1.0, max_rotate_deg=0, max_shift_px=0, scale=(1, 1), erase_prob=0)
    torch.testing.assert_close(augment(x, cfg), x.flip(-1), atol=1e-4, rtol=0)


def test_class_weights_favour_rare_classes_and_average_one():
    labels = np.array([0] * 90 + [1] * 10)
    w = class_weights(labels, "inverse")
    assert w is not None and w[1] > w[0]
    assert float((w[torch.from_numpy(labels)]).mean()) == pytest.approx(1.0)
    assert class_weights(labels, "none") is None


def test_tta_gives_ten_views_of_the_same_shape():
    faces = np.arange(2 * 48 * 48, dtype=np.uint32).reshape(2, 48, 48).astype(np.uint8)
    views = tta_views(faces)
    assert len(views) == 10 and all(v.shape == faces.shape and v.dtype == np.uint8 for v in views)
    assert np.array_equal(shift(faces, 0, 2)[:, :, 2:], faces[:, :, :-2])
