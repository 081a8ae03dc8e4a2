"""Train the emotion CNN on FER-2013: train on Training, select the epoch on PublicTest.

    python -m ml.train ml/configs/fer_cnn.json --out runs/fer_cnn             # start
    python -m ml.train ml/configs/fer_cnn.json --out runs/fer_cnn --resume    # after a stop
    python -m ml.train ml/configs/fer_cnn.json --out runs/fer_cnn --finalize  # temperature

Every epoch writes `last.pt` (full resumable state: model, optimizer, epoch, step, best-so-far,
history, RNG) and, when PublicTest accuracy improves, `best.pt` in the shipped format. At the end
the temperature is fitted on PublicTest and `final.pt` (best weights + temperature) is written.
The learning rate is a pure function of (step, total steps), so `--resume --epochs N` can shorten
or lengthen a run that is behind or ahead of schedule. PrivateTest is never looked at here.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ml.checkpoint import read_checkpoint, save_checkpoint
from ml.classifier import ArchConfig, Preprocessing, batched_logits, build_model, count_parameters
from ml.data import AugmentConfig, augment, class_weights, load_npz
from ml.metrics import ece, fit_temperature, nll, softmax
from ml.numerics import bf16_fast_on

DEFAULTS: dict[str, Any] = {
    "name": "fer_cnn",
    "arch": {},
    "augment": {},
    "epochs": 40,
    "batch_size": 128,
    "lr": 0.1,
    "momentum": 0.9,
    "weight_decay": 5e-4,
    "warmup_epochs": 2,
    "label_smoothing": 0.1,
    "class_weighting": "none",
    "bf16": "auto",  # "auto": ml.numerics decides from the CPU's flags; true/false force it
    "seed": 0,
    "max_train": None,  # cap on training images (tests)
    "max_eval": None,  # cap on PublicTest images (tests)
    "threads": 2,
    # warm start: a shipped checkpoint whose architecture matches `arch` (weights only; the
    # optimizer and the schedule start fresh, i.e. a warm restart of the cosine cycle)
    "init_from": None,
    # exponential moving average of the weights (and BatchNorm buffers); when set, PublicTest
    # selection and the saved checkpoints use the averaged weights
    "ema_decay": None,
    # knowledge distillation: {"teacher": shipped checkpoint, "weight": share of the loss,
    # "temperature": T, "tta": average the teacher's ten views}. The teacher's logits on the
    # (un-augmented) training images are computed once and cached in the run directory.
    "distill": None,
    # share of the loss given to the FER+ crowd votes as a soft target (images without FER+
    # votes for the seven emotions contribute the hard-label loss only)
    "ferplus_weight": 0.0,
}
STATE_FORMAT = "moodtune-train-state"


def load_config(path: str | Path) -> dict[str, Any]:
    cfg = {**DEFAULTS, **json.loads(Path(path).read_text())}
    unknown = set(cfg) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown config keys in {path}: {sorted(unknown)}")
    return cfg


def lr_at(step: int, total: int, warmup: int, peak: float) -> float:
    """Linear warm-up then cosine decay to zero."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * 0.5 * (1 + math.cos(math.pi * progress))


def teacher_logits(spec: dict[str, Any], images: np.ndarray, out: Path) -> np.ndarray:
    """The teacher's logits (N, 7) on `images`, cached in `out` by teacher file and view set."""
    from ml.checkpoint import load_classifier
    from ml.evaluate import predict_logits

    teacher = load_classifier(spec["teacher"], "cuda" if torch.cuda.is_available() else "cpu")
    tag = teacher.version.replace("@", "-")
    cache = out / f"teacher_{tag}_{'tta' if spec.get('tta') else 'single'}_{len(images)}.npy"
    if cache.exists():
        return np.load(cache)
    t0 = time.time()
    z = predict_logits(teacher, images, tta=bool(spec.get("tta"))).astype(np.float32)
    np.save(cache, z)
    print(f"teacher {teacher.version}: logits for {len(images)} images in "
          f"{time.time() - t0:.0f} s", flush=True)  # fmt: skip
    return z


def training_loss(
    logits: torch.Tensor,
    y: torch.Tensor,
    cfg: dict[str, Any],
    *,
    weights: torch.Tensor | None = None,
    teacher: torch.Tensor | None = None,
    votes: torch.Tensor | None = None,
) -> torch.Tensor:
    """Hard-label cross-entropy, plus the distillation and FER+ soft-label terms when configured.

    Distillation is Hinton's: T^2 * KL(teacher_T || student_T). The FER+ term is the
    cross-entropy against the normalised vote distribution, averaged over the images that have
    votes; the others keep their weight on the hard label.
    """
    hard = F.cross_entropy(logits, y, weight=weights, label_smoothing=cfg["label_smoothing"])
    loss = hard
    if teacher is not None:
        w, t = cfg["distill"]["weight"], cfg["distill"]["temperature"]
        soft = F.kl_div(
            F.log_softmax(logits / t, 1), F.log_softmax(teacher / t, 1),
            reduction="batchmean", log_target=True,
        ) * t * t  # fmt: skip
        loss = loss + w * (soft - hard)
    if votes is not None and cfg["ferplus_weight"]:
        total = votes.sum(1)
        has = total > 0
        if has.any():
            dist = votes[has] / total[has, None]
            ce = -(dist * F.log_softmax(logits[has], 1)).sum(1)
            per_image_hard = F.cross_entropy(
                logits[has], y[has], weight=weights, label_smoothing=cfg["label_smoothing"],
                reduction="none",
            )  # fmt: skip
            share = has.float().mean()
            loss = loss + cfg["ferplus_weight"] * share * (ce - per_image_hard).mean()
    return loss


def augment_config(cfg: dict[str, Any]) -> AugmentConfig:
    """The config's augmentation (JSON lists become the tuples AugmentConfig holds)."""
    return AugmentConfig(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in cfg["augment"].items()}  # type: ignore[arg-type]
    )


def uses_bf16(cfg: dict[str, Any], device: torch.device) -> bool:
    """bf16 autocast for this config on this device: "auto" lets ml.numerics decide."""
    return bf16_fast_on(device) if cfg["bf16"] == "auto" else bool(cfg["bf16"])


def make_optimizer(model: torch.nn.Module, cfg: dict[str, Any]) -> torch.optim.SGD:
    # no weight decay on BatchNorm and biases (1-d tensors): standard, and helps small nets
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [
        {"params": decay, "weight_decay": cfg["weight_decay"]},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.SGD(groups, lr=cfg["lr"], momentum=cfg["momentum"], nesterov=True)


def preprocessing_for(train_images: np.ndarray) -> Preprocessing:
    x = train_images.astype(np.float64) / 255.0
    return Preprocessing(input_size=train_images.shape[1], mean=float(x.mean()), std=float(x.std()))


def train(
    cfg: dict[str, Any],
    out: Path,
    *,
    resume: bool = False,
    epochs: int | None = None,
    data: str | None = None,
    finish_by: datetime | None = None,
) -> dict[str, Any]:
    """Run (or continue) training; returns the summary written to out/summary.json.

    `finish_by`: shrink the epoch count after each epoch (from the median of the last three
    epoch times) so that the cosine schedule still reaches zero before that moment. On a shared
    CPU the speed varies several-fold; an un-annealed network is much worse than a shorter one.
    """
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(cfg["seed"])
    splits = load_npz(data)
    tr, pub = splits["train"], splits["public"]
    rng = np.random.default_rng(cfg["seed"])
    if cfg["max_train"]:
        tr = tr.subset(rng.permutation(len(tr))[: cfg["max_train"]])
    if cfg["max_eval"]:
        pub = pub.subset(np.arange(min(len(pub), cfg["max_eval"])))
    pre = preprocessing_for(tr.images)
    arch = ArchConfig.from_dict(cfg["arch"])
    aug = augment_config(cfg)
    model = build_model(arch).to(device).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    if cfg["init_from"] and not resume:
        init, _ = read_checkpoint(cfg["init_from"])
        if ArchConfig.from_dict(init["arch"]) != arch:
            raise ValueError(f"init_from {cfg['init_from']}: architecture differs from the config")
        model.load_state_dict(
            {k: v.float() if v.is_floating_point() else v for k, v in init["state_dict"].items()}
        )
        print(f"warm start from {cfg['init_from']}", flush=True)
    ema = None
    if cfg["ema_decay"]:
        ema = torch.optim.swa_utils.AveragedModel(
            model,
            multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(cfg["ema_decay"]),
            use_buffers=True,
        )
    opt = make_optimizer(model, cfg)
    n_epochs = planned = epochs or cfg["epochs"]
    steps_per_epoch = math.ceil(len(tr) / cfg["batch_size"])
    total = n_epochs * steps_per_epoch
    warmup = cfg["warmup_epochs"] * steps_per_epoch
    weights = class_weights(tr.labels, cfg["class_weighting"])
    weights = None if weights is None else weights.to(device)
    bf16 = uses_bf16(cfg, device)

    st: dict[str, Any] = {"epoch": 0, "step": 0, "best_acc": -1.0, "best_epoch": -1, "history": []}
    st["train_seconds"] = 0.0
    if resume and (out / "last.pt").exists():
        saved = torch.load(out / "last.pt", map_location=device, weights_only=True)
        assert saved["format"] == STATE_FORMAT, "last.pt is not a training state"
        model.load_state_dict(saved["model"])
        if ema is not None:
            ema.load_state_dict(saved["ema"])
        opt.load_state_dict(saved["optimizer"])
        torch.set_rng_state(saved["torch_rng"])
        st = {k: saved[k] for k in ("epoch", "step", "best_acc", "best_epoch", "history")}
        st["train_seconds"] = saved.get("train_seconds", 0.0)
        print(f"resumed at epoch {st['epoch']} (best public {st['best_acc']:.4f})", flush=True)
    print(
        f"{cfg['name']}: {count_parameters(model):,} params, {len(tr)} train, {len(pub)} public, "
        f"{n_epochs} epochs x {steps_per_epoch} steps, device {device}, bf16 {bf16}",
        flush=True,
    )

    x_all = torch.from_numpy(tr.images)
    y_all = torch.from_numpy(tr.labels)
    t_all = None
    if cfg["distill"]:
        t_all = torch.from_numpy(teacher_logits(cfg["distill"], tr.images, out))
    v_all = torch.from_numpy(tr.votes) if cfg["ferplus_weight"] and tr.votes is not None else None
    epoch = st["epoch"]
    while epoch < n_epochs:
        t0 = time.time()
        model.train()
        # a fresh permutation per epoch, reproducible on resume
        perm = torch.randperm(len(tr), generator=torch.Generator().manual_seed(cfg["seed"] + epoch))
        loss_sum, correct, seen = 0.0, 0, 0
        bar = tqdm(
            range(steps_per_epoch),
            desc=f"epoch {epoch + 1}/{n_epochs}",
            mininterval=1 if sys.stderr.isatty() else 60,
            leave=False,
        )
        for i in bar:
            idx = perm[i * cfg["batch_size"] : (i + 1) * cfg["batch_size"]]
            x = augment(pre.normalise(x_all[idx]), aug).to(device)  # (B, 1, 48, 48)
            x = x.contiguous(memory_format=torch.channels_last)
            y = y_all[idx].to(device)
            lr = lr_at(st["step"], total, warmup, cfg["lr"])
            for g in opt.param_groups:
                g["lr"] = lr
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                logits = model(x)
            loss = training_loss(
                logits.float(), y, cfg, weights=weights,
                teacher=None if t_all is None else t_all[idx].to(device),
                votes=None if v_all is None else v_all[idx].to(device),
            )  # fmt: skip
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if ema is not None:
                ema.update_parameters(model)
            st["step"] += 1
            loss_sum += loss.item() * len(y)
            correct += int((logits.argmax(1) == y).sum().item())
            seen += len(y)
            bar.set_postfix(
                loss=f"{loss_sum / seen:.3f}",
                acc=f"{correct / seen:.3f}",
                lr=f"{lr:.4f}",
                refresh=False,
            )
        model.eval()
        judged = model if ema is None else ema.module
        judged.eval()
        z = batched_logits(judged, pub.images, pre, device, bf16=bf16)
        probs = softmax(z)
        pub_acc = float((probs.argmax(1) == pub.labels).mean())
        st["train_seconds"] += time.time() - t0
        row = {
            "epoch": epoch + 1,
            "train_loss": round(loss_sum / seen, 4),
            "train_acc": round(correct / seen, 4),
            "public_loss": round(nll(probs, pub.labels), 4),
            "public_acc": round(pub_acc, 4),
            "lr": round(lr, 5),
            "seconds": round(time.time() - t0, 1),
        }
        st["history"].append(row)
        st["epoch"] = epoch + 1
        print(json.dumps(row), flush=True)
        meta = {"name": cfg["name"], "arch": arch, "preprocessing": pre, "train_config": cfg}
        if pub_acc > st["best_acc"]:
            st["best_acc"], st["best_epoch"] = pub_acc, epoch + 1
            metrics = {"public_accuracy": round(pub_acc, 4), "epoch": epoch + 1}
            save_checkpoint(out / "best.pt", judged, metrics=metrics, **meta)
        state = {
            "format": STATE_FORMAT,
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "torch_rng": torch.get_rng_state(),
            **({} if ema is None else {"ema": ema.state_dict()}),
            **st,
        }
        torch.save(state, out / "last.tmp")
        (out / "last.tmp").replace(out / "last.pt")
        (out / "history.json").write_text(json.dumps(st["history"], indent=1))
        plot_curves(st["history"], out / "curves.png")
        epoch += 1
        if finish_by is not None and epoch < n_epochs:
            # the last epoch's time, or the median of the last three if that is less: one epoch
            # slowed by a neighbour on the CPU must not cut the whole run short
            recent = [h["seconds"] for h in st["history"][-3:]]
            per_epoch = min(recent[-1], float(np.median(recent)))
            left = (finish_by - datetime.now(UTC)).total_seconds()
            # shrinks the schedule when behind, grows it back (up to the plan) when ahead again
            affordable = min(planned, epoch + max(1, int(left // per_epoch)))
            if affordable != n_epochs:
                print(f"finish-by {finish_by:%H:%M}: {n_epochs} -> {affordable} epochs", flush=True)
                n_epochs, total = affordable, affordable * steps_per_epoch
    return finalize(cfg, out, data=data, train_seconds=st["train_seconds"])


def finalize(
    cfg: dict[str, Any], out: Path, *, data: str | None = None, train_seconds: float | None = None
) -> dict[str, Any]:
    """Fit the temperature on PublicTest for best.pt and write final.pt (the file to ship)."""
    from ml.checkpoint import load_classifier

    clf = load_classifier(out / "best.pt", "cuda" if torch.cuda.is_available() else "cpu")
    pub = load_npz(data)["public"]
    if cfg["max_eval"]:
        pub = pub.subset(np.arange(min(len(pub), cfg["max_eval"])))
    z = clf.logits(pub.images)
    t = fit_temperature(z, pub.labels)
    p1, pt = softmax(z), softmax(z, t)
    raw, _ = read_checkpoint(out / "best.pt")
    history = (
        json.loads((out / "history.json").read_text()) if (out / "history.json").exists() else []
    )
    metrics = {
        **raw["metrics"],
        "public_ece_before_temperature": round(ece(p1, pub.labels), 4),
        "public_ece_after_temperature": round(ece(pt, pub.labels), 4),
        "public_nll_before_temperature": round(nll(p1, pub.labels), 4),
        "public_nll_after_temperature": round(nll(pt, pub.labels), 4),
        "epochs_run": len(history),
    }
    if train_seconds is not None:
        metrics["train_seconds"] = round(train_seconds, 1)
    save_checkpoint(
        out / "final.pt",
        clf.model,
        name=cfg["name"],
        arch=ArchConfig.from_dict(raw["arch"]),
        preprocessing=Preprocessing.from_dict(raw["preprocessing"]),
        temperature=t,
        train_config=raw["train_config"],
        metrics=metrics,
        half=True,  # float16 storage halves the file; loading casts back to float32
    )
    summary = {"temperature": round(t, 4), **metrics}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary), flush=True)
    return summary


def plot_curves(history: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(ep, [h["train_loss"] for h in history], label="train (augmented, smoothed)")
    a.plot(ep, [h["public_loss"] for h in history], label="PublicTest NLL")
    b.plot(ep, [h["train_acc"] for h in history], label="train (augmented)")
    b.plot(ep, [h["public_acc"] for h in history], label="PublicTest")
    for ax, title in ((a, "loss"), (b, "accuracy")):
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("config", help="JSON config, e.g. ml/configs/fer_cnn.json")
    ap.add_argument("--out", type=Path, help="run directory (default runs/<name>)")
    ap.add_argument("--resume", action="store_true", help="continue from <out>/last.pt")
    ap.add_argument("--epochs", type=int, help="override the config's epoch count")
    ap.add_argument("--data", help="fer2013.npz path (default $FER2013_NPZ or ../shared)")
    ap.add_argument("--finalize", action="store_true", help="only fit temperature on best.pt")
    ap.add_argument("--finish-by", help="UTC time HH:MM; shorten the schedule to end by then")
    args = ap.parse_args(argv)
    finish_by = None
    if args.finish_by:
        h, m = (int(v) for v in args.finish_by.split(":"))
        finish_by = datetime.now(UTC).replace(hour=h, minute=m, second=0, microsecond=0)
    cfg = load_config(args.config)
    torch.set_num_threads(cfg["threads"])
    out = args.out or Path("runs") / cfg["name"]
    if args.finalize:
        finalize(cfg, out, data=args.data)
    else:
        train(cfg, out, resume=args.resume, epochs=args.epochs, data=args.data, finish_by=finish_by)


if __name__ == "__main__":
    main()
