"""Benchmark ``dataprep train``: LeNet vs an RBF SVC on scikit-learn's digits, the grid detector on
generated scenes under a wall-clock budget, and batch-1 CPU inference speed of every bundled net.

    python bench/train.py                         # everything (about 15 minutes on 2 cores)
    python bench/train.py --only digits --seeds 5 --epochs 40
    python bench/train.py --only detector --detector-images 2000 --detector-seconds 300
    python bench/train.py --only speed

Digits: the 1,797 8x8 scans of ``sklearn.datasets.load_digits`` (offline), written as PNGs, split
70-20-10 by `dataprep.split` (stratified per class) with each seed; LeNet trains on train, keeps the
best val epoch and is tested on test; the SVC (RBF, gamma 0.001, C 10, on the 64 raw features
0..16) fits train on the same split. Prints rich tables; nothing here is a test.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from rich.console import Console
from rich.table import Table

import dataprep
from dataprep.dataset import Dataset
from dataprep.training import TrainConfig, train

console = Console(width=150)  # tables are pasted into README and cards: never truncate a cell


def digits_dataset(root: Path) -> tuple[Dataset, np.ndarray]:
    """load_digits as 8x8 grey PNGs (0..16 scaled to 0..255) and image-level labels; also the raw features."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    root.mkdir(parents=True, exist_ok=True)
    names = []
    for i, scan in enumerate(digits.images):
        name = f"d{i:04d}.png"
        Image.fromarray(np.round(scan * 255 / 16).astype(np.uint8), "L").save(root / name)
        names.append(name)
    n = len(names)
    ds = Dataset.from_frames(
        {"image_id": np.arange(1, n + 1), "file_name": names, "width": [8] * n, "height": [8] * n},
        {"annotation_id": np.arange(1, n + 1), "image_id": np.arange(1, n + 1), "category_id": digits.target + 1},
        {"category_id": np.arange(1, 11), "name": [str(d) for d in range(10)]},
        root=root,
    )
    return ds, digits.data


# digits are 8x8: a one-pixel shift is 12 % of the image; no flips (a flipped 2 is not a 2)
DIGITS_AUGMENT = {"version": 1, "min_visibility": 0.0, "transforms": [
    {"type": "translate", "fraction": 0.125, "p": 0.5}, {"type": "rotate", "degrees": 10, "p": 0.3}]}  # fmt: skip


def bench_digits(work: Path, seeds: int, epochs: int, threads: int | None, augment: bool) -> None:
    from sklearn.svm import SVC

    ds, features = digits_dataset(work / "digits")
    labels = ds.annotations["category_id"].to_numpy() - 1
    rows = []
    for seed in range(seeds):
        split = dataprep.split(ds, ratios=(0.7, 0.2, 0.1), seed=seed)
        part = split.images["split"].to_numpy()
        config = TrainConfig(model="lenet", epochs=epochs, batch_size=32, lr=3e-3, seed=seed, threads=threads,
                             augment=DIGITS_AUGMENT if augment else None)  # fmt: skip
        t0 = time.perf_counter()
        result = train(split, config, work / f"lenet-{seed}", overwrite=True)
        seconds = time.perf_counter() - t0
        train_mask, test_mask = part == "train", part == "test"
        t0 = time.perf_counter()
        svc = SVC(kernel="rbf", gamma=0.001, C=10).fit(features[train_mask], labels[train_mask])
        svc_acc = float((svc.predict(features[test_mask]) == labels[test_mask]).mean())
        svc_seconds = time.perf_counter() - t0
        rows.append([seed, int(test_mask.sum()), result.test["accuracy"], svc_acc, seconds, svc_seconds,
                     result.history.best_epoch])  # fmt: skip
    frame = pd.DataFrame(rows, columns=["seed", "test", "lenet", "svc", "lenet_s", "svc_s", "best_epoch"])
    extra = ", online augmentation" if augment else ""
    table = Table(
        title=f"LeNet vs RBF SVC on load_digits (70-20-10 stratified, {epochs} epochs{extra}, {threads} thread)"
    )
    for name in ("split seed", "test images", "LeNet acc", "SVC acc", "LeNet s", "SVC s", "best epoch"):
        table.add_column(name, justify="right")
    for r in frame.itertuples():
        table.add_row(str(r.seed), str(r.test), f"{r.lenet:.4f}", f"{r.svc:.4f}", f"{r.lenet_s:.1f}",
                      f"{r.svc_s:.2f}", str(r.best_epoch))  # fmt: skip
    table.add_row("mean", "", f"{frame.lenet.mean():.4f}", f"{frame.svc.mean():.4f}", f"{frame.lenet_s.mean():.1f}",
                  f"{frame.svc_s.mean():.2f}", "")  # fmt: skip
    console.print(table)
    gap = frame.svc.mean() - frame.lenet.mean()
    console.print(f"mean LeNet - SVC: {-gap:+.4f} (target: within 0.006, one test image)")


def bench_detector(work: Path, images: int, seconds: float, threads: int | None, img_size: int, augment: bool) -> None:
    """The grid detector with the models/grid-detector.json preset as shipped (`augment` False drops its
    augmentation, for the ablation); `threads` None = the free cores, like `dataprep train`."""
    from dataprep.samples import generate_detection

    data = work / f"scenes-{images}"
    if not data.exists():
        generate_detection(data, images=images, seed=0)
    preset = Path(__file__).resolve().parents[1] / "models" / "grid-detector.json"
    config = TrainConfig.from_preset(preset)  # its epochs stay: what `dataprep train --model grid-detector` runs
    config = config.replace(time_limit=seconds, threads=threads, img_size=img_size)
    if not augment:
        config = dataclasses.replace(config, augment=None)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    result = train(data, config, work / f"detector-{images}", overwrite=True)
    wall = time.perf_counter() - t0
    extra = "" if augment else ", preset augmentation off"
    table = Table(
        title=f"Grid detector on {images} digit scenes, models/grid-detector.json, --time-limit {seconds:g}{extra}"
    )
    for name in ("threads", "load 1 min", "epochs", "best epoch", "val AP50", "test AP", "test AP50", "test AP75",
                 "wall s"):  # fmt: skip
        table.add_column(name, justify="right")
    t = result.test or {}
    table.add_row(str(result.threads), f"{load:.1f}", str(len(result.history.records)),
                  str(result.history.best_epoch), f"{result.history.best_metric:.3f}",
                  f"{t.get('AP', float('nan')):.3f}", f"{t.get('AP50', float('nan')):.3f}",
                  f"{t.get('AP75', float('nan')):.3f}", f"{wall:.0f}")  # fmt: skip
    console.print(table)


def bench_speed(repeats: int, work: Path) -> None:
    import torch

    from dataprep.encoding import anchor_layout
    from dataprep.nets import CLASSIFIERS, make_net
    from dataprep.prediction import _export_onnx, _images_per_s

    try:
        import onnxruntime  # noqa: F401

        onnx = True
    except ImportError:
        onnx = False
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", FutureWarning)  # torch.jit.trace is marked deprecated
    table = Table(title="Batch-1 CPU inference, 1 thread: eager PyTorch, TorchScript (trace), ONNX Runtime")
    for name in ("net", "input", "parameters", "eager img/s", "torchscript img/s", "onnxruntime img/s"):
        table.add_column(name, justify="right")
    cases = [(n, 1, 28) for n in CLASSIFIERS] + [(n, 3, 32) for n in CLASSIFIERS] + [("grid-detector", 3, 128)]
    for name, channels, size in cases:
        layout = None
        if name == "grid-detector":
            layout = anchor_layout([[12, 12], [20, 24], [32, 32]], img_size=size, strides=(8,), num_classes=5)
        net = make_net(name, num_classes=10, in_channels=channels, img_size=size, layout=layout).eval()
        x = torch.rand(1, channels, size, size)
        with torch.no_grad():
            eager = _images_per_s(lambda net=net, x=x: net(x), repeats)
            traced = torch.jit.trace(net, x, strict=False)
            script = _images_per_s(lambda traced=traced, x=x: traced(x), repeats)
            ort = "-"
            if onnx:
                folder = work / f"onnx-{name}-{size}"
                folder.mkdir(parents=True, exist_ok=True)
                try:
                    _, session = _export_onnx(net, x, folder)
                    feed = {"images": x.numpy()}
                    ort = f"{_images_per_s(lambda s=session, f=feed: s.run(None, f), repeats):,.0f}"
                except Exception as err:  # an op ONNX cannot express: say so in the table
                    ort = f"export failed: {type(err).__name__}"
        params = sum(p.numel() for p in net.parameters())
        table.add_row(name, f"{channels}x{size}x{size}", f"{params:,}", f"{eager:,.0f}", f"{script:,.0f}", ort)
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["digits", "detector", "speed"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--augment", action="store_true", help="LeNet: online augmentation (shifts, turns)")
    parser.add_argument(
        "--detector-no-augment", action="store_true", help="detector: drop the preset's augmentation (ablation)"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: the free cores, as `dataprep train`)"
    )
    parser.add_argument("--detector-images", type=int, default=2000)
    parser.add_argument("--detector-seconds", type=float, default=300)
    parser.add_argument("--img-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="dp-train-bench-"))
    console.print(f"workdir {work}")
    if args.only in (None, "digits"):
        bench_digits(work, args.seeds, args.epochs, args.threads, args.augment)
    if args.only in (None, "detector"):
        bench_detector(work, args.detector_images, args.detector_seconds, args.threads, args.img_size,
                       not args.detector_no_augment)  # fmt: skip
    if args.only in (None, "speed"):
        bench_speed(args.repeats, work)


if __name__ == "__main__":
    main()
