"""training.py: one-epoch smoke runs of every net, resume to the same weights, checkpoint contents, errors.

Data is tiny on purpose (8x8 grey squares, 3 classes, 42 images; the 50 bundled detection scenes
at 64 px): the whole file runs in seconds on 2 cores. Accuracy targets are `bench/train.py`'s job.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO
from PIL import Image

from dataprep.errors import OutputError, UsageError
from dataprep.training import TrainConfig, TrainingDiverged, load_checkpoint, lr_at, train

DETECTION = REPO / "samples" / "detection" / "coco"
SPLITS = {"train": 8, "val": 3, "test": 3}  # images per class


def tiny_classification(root: Path, *, splits: bool = True, size: int = 8) -> Path:
    """Class folders of ``size`` x ``size`` grey images: class k is a bright bar in row band k, plus noise."""
    rng = np.random.default_rng(0)
    for split, n in SPLITS.items():
        for k, name in enumerate(("a", "b", "c")):
            for i in range(n):
                pixels = rng.integers(0, 60, (size, size))
                band = size // 3
                pixels[k * band : (k + 1) * band, 1 : size - 1] += 180
                folder = root / split / name if splits else root / name
                folder.mkdir(parents=True, exist_ok=True)
                Image.fromarray(pixels.astype(np.uint8), "L").save(folder / f"{split}_{i}.png")
    return root


def _config(**changes: object) -> TrainConfig:
    base = TrainConfig(model="lenet", epochs=1, batch_size=8, lr=3e-3, threads=1, seed=0)
    return base.replace(**changes)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_classification(tmp_path_factory.mktemp("tiny") / "data")


@pytest.mark.parametrize("model", ["lenet", "alexnet", "minivgg", "minigooglenet", "resnet"])
def test_every_classifier_trains_one_epoch(tiny: Path, tmp_path: Path, model: str) -> None:
    result = train(tiny, _config(model=model), tmp_path / "run")
    summary = result.to_dict()
    assert summary["task"] == "classification" and summary["epochs_run"] == 1
    assert 0.0 <= summary["test"]["accuracy"] <= 1.0
    for name in ("config.json", "metrics.csv", "curves.png", "result.json", "report/index.html"):
        assert (tmp_path / "run" / name).is_file(), name
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["threads"] == 1 and config["train"]["model"] == model
    assert {"torch", "torchvision", "numpy", "dataprep"} <= set(config["versions"])


def test_grid_detector_trains_one_epoch_and_reports_coco_ap(tmp_path: Path) -> None:
    if not DETECTION.is_dir():
        pytest.skip("samples/ not present")
    config = _config(model="grid-detector", img_size=64, batch_size=16)
    result = train(DETECTION, config, tmp_path / "run")
    assert {"AP", "AP50", "AP75"} <= set(result.test)
    ckpt = load_checkpoint(tmp_path / "run")
    layout = ckpt["meta"]["layout"]
    assert layout["img_size"] == 64 and layout["strides"] == [8] and len(layout["anchors"]) == 3
    assert layout["num_classes"] == 5


def test_resume_reaches_the_same_weights_as_an_uninterrupted_run(tiny: Path, tmp_path: Path) -> None:
    config = _config(model="minivgg", epochs=3, augment="light")
    full = train(tiny, config, tmp_path / "full")
    stopped = train(tiny, config, tmp_path / "part", on_epoch=lambda record: record["epoch"] < 1)
    assert stopped.history.stopped == "interrupted" and len(stopped.history.records) == 1
    resumed = train(tiny, config, tmp_path / "part", resume=True)
    assert len(resumed.history.records) == 3
    a = load_checkpoint(tmp_path / "full" / "weights" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "part" / "weights" / "last.pt")["model"]
    for name in a:
        assert torch.equal(a[name], b[name]), name
    assert full.test == resumed.test


def test_checkpoint_carries_what_it_promises(tiny: Path, tmp_path: Path) -> None:
    train(tiny, _config(), tmp_path / "run")
    ckpt = load_checkpoint(tmp_path / "run" / "weights" / "last.pt")
    assert {"model", "optimizer", "schedule", "epoch", "rng", "meta", "config", "history"} <= set(ckpt)
    assert ckpt["epoch"] == 1 and ckpt["schedule"]["step"] == 3  # 24 images / batch 8
    meta = ckpt["meta"]
    assert meta["category_names"] == ["a", "b", "c"] and meta["img_size"] == 8 and meta["in_channels"] == 1
    assert ckpt["config"]["threads"] == 1
    assert not list((tmp_path / "run" / "weights").glob(".*"))  # no temporary file left behind


def test_same_seed_same_weights_and_seed_matters(tiny: Path, tmp_path: Path) -> None:
    train(tiny, _config(), tmp_path / "a")
    train(tiny, _config(), tmp_path / "b")
    train(tiny, _config(seed=1), tmp_path / "c")
    a, b, c = (load_checkpoint(tmp_path / x)["model"] for x in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_no_split_says_how_to_make_one(tmp_path: Path) -> None:
    data = tiny_classification(tmp_path / "flat", splits=False)
    with pytest.raises(UsageError, match=r"dataprep split.*--split-ratios 70,20,10"):
        train(data, _config(), tmp_path / "run")
    result = train(data, _config(split_ratios="70,20,10"), tmp_path / "run")
    assert result.test is not None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"epochs": 0}, "--epochs 0"),
        ({"lr": -1.0}, "--lr"),
        ({"model": "grid-detector"}, "use one of lenet"),
        ({"device": "tpu"}, "--device"),
        ({"augment": "no-such-preset"}, "no-such-preset"),
    ],
)
def test_bad_options_are_usage_errors(tiny: Path, tmp_path: Path, changes: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        train(tiny, _config(**changes), tmp_path / "run")


def test_existing_output_is_refused_without_overwrite(tiny: Path, tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "mine.txt").write_text("keep me")
    with pytest.raises(OutputError, match="--overwrite"):
        train(tiny, _config(), tmp_path / "run")
    with pytest.raises(OutputError, match="not a run folder"):
        train(tiny, _config(), tmp_path / "run", overwrite=True)
    assert (tmp_path / "run" / "mine.txt").is_file()


def test_non_finite_loss_stops_with_the_step(tiny: Path, tmp_path: Path) -> None:
    with pytest.raises(TrainingDiverged, match=r"epoch 1, step \d+.*--lr"):
        train(tiny, _config(lr=1e30, model="lenet", epochs=2), tmp_path / "run")


def test_schedule_warms_up_then_follows_a_cosine() -> None:
    config = TrainConfig(lr=1.0, warmup=0.1)
    assert lr_at(0.0, config) == 0.0
    assert lr_at(0.05, config) == pytest.approx(0.5)
    assert lr_at(0.1, config) == pytest.approx(1.0)
    assert lr_at(1.0, config) == pytest.approx(0.05)
    values = [lr_at(p / 100, config) for p in range(10, 101)]
    assert all(a >= b for a, b in itertools.pairwise(values))


def test_presets_in_models_load_and_name_known_nets() -> None:
    presets = sorted((REPO / "models").glob("*.json"))
    if not presets:
        pytest.skip("models/ has no presets")
    for path in presets:
        config = TrainConfig.from_preset(path)
        config.check()
    with pytest.raises(UsageError, match="not a net"):
        TrainConfig.from_preset("no-such-model")


def test_two_process_ddp_run_writes_once(tiny: Path, tmp_path: Path) -> None:
    import shutil
    import subprocess
    import sys

    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists() and shutil.which("torchrun") is None:
        pytest.skip("torchrun not installed")
    command = [str(torchrun if torchrun.exists() else "torchrun"), "--standalone", "--nproc-per-node", "2",
               "-m", "dataprep", "train", str(tiny), "--epochs", "2", "--batch-size", "4", "--threads", "1",
               "--out", str(tmp_path / "run"), "--json"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout[done.stdout.index("{") :])  # one JSON object: rank 0 only
    assert summary["epochs_run"] == 2 and summary["test"] is not None
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["world_size"] == 2
    ckpt = load_checkpoint(tmp_path / "run" / "weights" / "last.pt")
    assert ckpt["schedule"]["step"] == 2 * 3  # 24 images / (2 ranks x batch 4) = 3 steps per epoch
