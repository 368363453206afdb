"""predict(): a trained checkpoint + a Dataset -> predictions (the annotations table with ``score``).

Predictions are a `Dataset` over the ground truth's images and categories, so they go straight
into `dataprep.evaluate` or any writer. Classification: one image-level row per image (NaN box,
the top class, its softmax probability). Detection: boxes decoded by `dataprep.encoding.decode`
(darknet activations, per-class NMS) and mapped back to image pixels (`unletterbox`).
`write_predictions` writes a classification CSV (``file_name,label,score``), a COCO results json
or YOLO label files with a confidence column.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader

from dataprep.data import ClassificationData, DetectionCollate, DetectionData, classification_collate
from dataprep.dataset import Dataset
from dataprep.encoding import Layout, decode
from dataprep.errors import InputError, OutputError, UsageError

PREDICTION_FORMATS = ("auto", "csv", "coco", "yolo")


@torch.no_grad()
def predict_classes(
    net: nn.Module, data: ClassificationData, *, batch_size: int = 256, device: str = "cpu"
) -> tuple[np.ndarray, np.ndarray]:
    """``(N,)`` class_index and ``(N, C)`` float64 softmax probabilities for every item of `data`."""
    net.eval()
    loader = DataLoader(data, batch_size=batch_size, shuffle=False, num_workers=0, collate_fn=classification_collate)
    probs = [torch.softmax(net(b["images"].to(device)).float(), 1).cpu() for b in loader]
    p = torch.cat(probs).double().numpy() if probs else np.zeros((0, 0))
    return p.argmax(1) if len(p) else np.zeros(0, np.int64), p


@torch.no_grad()
def predict_boxes(
    net: nn.Module,
    data: DetectionData,
    layout: Layout,
    category_ids: np.ndarray,
    *,
    batch_size: int = 64,
    conf_threshold: float = 0.01,
    iou_threshold: float = 0.45,
    max_det: int = 100,
    device: str = "cpu",
) -> pd.DataFrame:
    """Decoded, NMS-filtered boxes of every image of `data`, in image pixels (a predictions table)."""
    net.eval()
    collate = DetectionCollate(layout)
    loader = DataLoader(data, batch_size=batch_size, shuffle=False, num_workers=0, collate_fn=collate)
    parts = []
    for batch in loader:
        outputs = [o.float().cpu() for o in net(batch["images"].to(device))]
        parts.append(
            decode(
                outputs,
                layout,
                image_ids=batch["image_ids"].numpy(),
                images=data.dataset.images,
                category_ids=category_ids,
                conf_threshold=conf_threshold,
                iou_threshold=iou_threshold,
                max_det=max_det,
            )
        )
    if not parts:
        return Dataset.empty().annotations
    table = pd.concat(parts)
    table.index = pd.Index(np.arange(1, len(table) + 1, dtype=np.int64), name="annotation_id")
    return table


def classification_predictions(
    ds: Dataset, image_ids: np.ndarray, class_index: np.ndarray, probs: np.ndarray, category_ids: np.ndarray
) -> Dataset:
    """A predictions Dataset: one row per image, ``category_ids[class_index]``, score = its probability."""
    n = len(image_ids)
    score = probs[np.arange(n), class_index] if n else np.zeros(0)
    anns = pd.DataFrame(
        {
            "annotation_id": np.arange(1, n + 1, dtype=np.int64),
            "image_id": np.asarray(image_ids, dtype=np.int64),
            "category_id": np.asarray(category_ids, dtype=np.int64)[class_index] if n else np.zeros(0, np.int64),
            "score": score.astype(np.float64),
        }
    )
    return Dataset.from_frames(ds.images, anns, ds.categories, root=ds.root, info=ds.info)


def predict(
    source: str | Path,
    data: Dataset | str | Path,
    *,
    split: str | None = "test",
    batch_size: int = 64,
    conf_threshold: float | None = None,
    iou_threshold: float | None = None,
    device: str = "cpu",
) -> Dataset:
    """Predict with a trained checkpoint on the images of `data` (one split, or all with None).

    Args:
        source: a run folder (its ``weights/best.pt``) or a checkpoint file.
        data: a Dataset or a dataset path any reader takes.
        conf_threshold, iou_threshold: detection score threshold and per-class NMS IoU
            (default: the values recorded at training).

    Returns:
        A Dataset over `data`'s images (of that split) and the checkpoint's classes whose
        annotations are the predictions, each with a ``score``.

    Raises:
        InputError: unreadable checkpoint or data.
        UsageError: an unknown split, or data whose classes differ from the checkpoint's.
    """
    from dataprep.training import build_net, load_checkpoint

    ckpt = load_checkpoint(source)
    meta = ckpt["meta"]
    ds = _as_dataset(data)
    if split is not None:
        mask = (ds.images["split"] == split).fillna(False).to_numpy(dtype=bool)
        if not mask.any():
            raise UsageError(
                f"--split {split}: {data} has no images in that split (splits: {', '.join(ds.splits) or 'none'}). "
                "Pass one of those, or --split all"
            )
        ds = ds.select_images(mask)
    ds = _with_checkpoint_classes(ds, meta, data)
    net = build_net(meta).to(device)
    net.load_state_dict(ckpt["model"])
    class_map = pd.Series(np.arange(len(meta["category_ids"])), index=pd.Index(meta["category_ids"]))
    category_ids = np.asarray(meta["category_ids"], dtype=np.int64)
    common = {"img_size": meta["img_size"], "channels": meta["in_channels"]}
    if meta["task"] == "classification":
        cdata = ClassificationData(ds, class_map, **common, keep_unlabelled=True)
        cls, probs = predict_classes(net, cdata, batch_size=batch_size, device=device)
        return classification_predictions(ds, cdata.image_ids, cls, probs, category_ids)
    layout = Layout.from_dict(meta["layout"])
    ddata = DetectionData(ds, class_map, **common)
    table = predict_boxes(
        net,
        ddata,
        layout,
        category_ids,
        batch_size=batch_size,
        conf_threshold=meta["conf_threshold"] if conf_threshold is None else conf_threshold,
        iou_threshold=meta["iou_threshold"] if iou_threshold is None else iou_threshold,
        device=device,
    )
    # the task rides in info so an empty result is still written as detection (a COCO results list)
    return Dataset.from_frames(ds.images, table, ds.categories, root=ds.root, info={**ds.info, "task": "detection"})


def _as_dataset(data: Dataset | str | Path) -> Dataset:
    if isinstance(data, Dataset):
        return data
    from dataprep.formats import read

    return read(data)


def _with_checkpoint_classes(ds: Dataset, meta: dict[str, Any], data: Any) -> Dataset:
    """`ds` with the checkpoint's categories (ids and names); refuses data with other class names."""
    trained = pd.DataFrame({"category_id": meta["category_ids"], "name": meta["category_names"]})
    have = ds.categories["name"].astype(str).tolist()
    unknown = sorted(set(have) - set(trained["name"]))
    if unknown:
        raise UsageError(
            f"{data}: classes {unknown[:5]} are not among the {len(trained)} the model was trained on "
            f"({', '.join(trained['name'][:10])}). Predict on data labelled with the same classes"
        )
    if have == trained["name"].tolist() and ds.categories.index.tolist() == trained["category_id"].tolist():
        return ds
    remap = pd.Series(trained["category_id"].to_numpy(), index=trained["name"].to_numpy())
    old = pd.Series(ds.categories["name"].astype(str).to_numpy(), index=ds.categories.index)
    anns = ds.annotations.assign(category_id=ds.annotations["category_id"].map(old).map(remap).astype("int64"))
    return Dataset.from_frames(ds.images, anns, trained, root=ds.root, info=ds.info)


def write_predictions(pred: Dataset, out: str | Path, *, to: str = "auto", overwrite: bool = False) -> Path:
    """Write predictions where `dataprep evaluate` reads them.

    ``csv``: ``file_name,label,score`` (classification); ``coco``: a COCO results json list of
    ``{image_id, category_id, bbox [x, y, w, h], score}``; ``yolo``: a YOLO folder (labels only,
    a ``conf`` column). ``auto``: csv for classification, coco for detection.

    Raises:
        OutputError: `out` exists and `overwrite` is false.
        UsageError: an unknown format, or one that cannot hold these predictions.
    """
    if to not in PREDICTION_FORMATS:
        raise UsageError(f"--to {to!r}: choose one of {', '.join(PREDICTION_FORMATS)}")
    detection = pred.has_boxes or pred.info.get("task") == "detection"
    detection = detection or (len(pred.annotations) == 0 and to in ("coco", "yolo"))
    to = ("coco" if detection else "csv") if to == "auto" else to
    if (to == "csv") == detection:
        kind = "detection" if detection else "classification"
        raise UsageError(f"--to {to}: cannot hold {kind} predictions; use csv for classes, coco or yolo for boxes")
    path = Path(out)
    if path.exists() and not overwrite:
        raise OutputError(f"{path}: already exists. Pass --overwrite to replace it, or choose another --out")
    if to == "yolo":
        from dataprep.formats import write

        write(pred, path, "yolo", images="none", overwrite=overwrite, scores=True)
        return path
    anns = pred.annotations
    if to == "csv":
        names = pred.categories["name"].astype(str)
        frame = pd.DataFrame(
            {
                "file_name": pred.images["file_name"].reindex(anns["image_id"]).to_numpy(),
                "label": names.reindex(anns["category_id"]).to_numpy(),
                "score": anns["score"].map(lambda v: f"{v:.6f}").to_numpy(),
            }
        )
        text = frame.to_csv(index=False, lineterminator="\n")
    else:
        xyxy = anns[["x_min", "y_min", "x_max", "y_max"]].to_numpy(dtype=np.float64)
        records = [
            {
                "image_id": int(i),
                "category_id": int(c),
                "bbox": [round(float(v), 3) for v in (b[0], b[1], b[2] - b[0], b[3] - b[1])],
                "score": round(float(s), 6),
            }
            for i, c, b, s in zip(anns["image_id"], anns["category_id"], xyxy, anns["score"], strict=True)
        ]
        text = json.dumps(records, separators=(",", ":")) + "\n"
    _write_text_atomic(path, text)
    return path


def _write_text_atomic(path: Path, text: str) -> None:
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


EXPORT_FORMATS = ("torchscript", "onnx")


def export_model(
    checkpoint: str | Path, out_dir: str | Path, *, format: str = "torchscript", batch: int = 4, repeats: int = 50
) -> dict[str, Any]:
    """Write a checkpoint's net for deployment and check it against eager PyTorch.

    ``torchscript`` (``model.pt``, `torch.jit.trace`) or ``onnx`` (``model.onnx``; needs the
    optional ``onnx`` and ``onnxruntime`` packages). The check runs a seeded random batch through
    both: ``max_abs_diff`` must be at most 1e-4. Speed is batch-1 images/s on one thread, for the
    eager net and the exported one.

    Returns:
        ``{"format", "path", "max_abs_diff", "eager_images_per_s", "exported_images_per_s"}``.

    Raises:
        UsageError: an unknown format, or onnx without its packages.
        InputError: the export differs from eager PyTorch by more than 1e-4.
    """
    from dataprep.training import build_net, load_checkpoint

    if format not in EXPORT_FORMATS:
        raise UsageError(f"--export {format!r}: choose one of {', '.join(EXPORT_FORMATS)}")
    ckpt = load_checkpoint(checkpoint)
    meta = ckpt["meta"]
    net = build_net(meta)
    net.load_state_dict(ckpt["model"])
    net.eval()
    size = meta["img_size"]
    x = torch.rand(batch, meta["in_channels"], size, size, generator=torch.Generator().manual_seed(0))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            eager = _flat(net(x))
            one = x[:1]
            if format == "torchscript":
                path = out / "model.pt"
                with warnings.catch_warnings():  # torch 2.9+ marks jit deprecated; it still is the portable format
                    warnings.simplefilter("ignore", FutureWarning)
                    traced = torch.jit.trace(net, one, strict=False)
                    tmp = path.with_suffix(".tmp")
                    traced.save(str(tmp))
                    tmp.replace(path)
                    loaded = torch.jit.load(str(path))
                exported = _flat(loaded(x))
                run = lambda: loaded(one)  # noqa: E731
            else:
                path, session = _export_onnx(net, one, out)
                exported = torch.from_numpy(session.run(None, {"images": x.numpy()})[0].reshape(batch, -1))
                run = lambda: session.run(None, {"images": one.numpy()})  # noqa: E731
            diff = float((eager - exported).abs().max())
            speeds = [_images_per_s(lambda: net(one), repeats), _images_per_s(run, repeats)]
    finally:
        torch.set_num_threads(threads)
    if not diff <= 1e-4:
        raise InputError(path, f"the exported model differs from eager PyTorch by {diff:.2e} (> 1e-4)",
                         hint="Report it with the checkpoint")  # fmt: skip
    return {
        "format": format,
        "path": str(path),
        "max_abs_diff": diff,
        "eager_images_per_s": speeds[0],
        "exported_images_per_s": speeds[1],
    }


def _flat(outputs: Any) -> torch.Tensor:
    """Logits or per-scale outputs as one ``(N, -1)`` tensor."""
    if isinstance(outputs, list | tuple):
        return torch.cat([o.reshape(o.shape[0], -1) for o in outputs], 1)
    return outputs.reshape(outputs.shape[0], -1)


def _images_per_s(run: Any, repeats: int) -> float:
    import time

    for _ in range(3):
        run()
    t0 = time.perf_counter()
    for _ in range(repeats):
        run()
    return repeats / (time.perf_counter() - t0)


def _export_onnx(net: nn.Module, one: torch.Tensor, out: Path) -> tuple[Path, Any]:
    """Export with the torch.export-based exporter (``dynamo=True``, what torch 2.9+ recommends; needs
    ``onnxscript``), batch size dynamic, and open it in an onnxruntime CPU session."""
    try:
        import onnxruntime
        import onnxscript  # noqa: F401  (the dynamo exporter's back end: fail here with the fix, not inside torch)
    except ImportError:
        raise UsageError(
            "--export onnx needs the optional packages: pip install 'dataprep[onnx]' (onnx onnxruntime onnxscript)"
        ) from None
    path = out / "model.onnx"

    class _Flat(nn.Module):
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return _flat(self.inner(x))

    batch = torch.export.Dim("batch")
    program = torch.onnx.export(_Flat(net).eval(), (one,), input_names=["images"], output_names=["outputs"],
                                dynamic_shapes={"x": {0: batch}}, dynamo=True, verbose=False)  # fmt: skip
    tmp = path.with_suffix(".tmp")
    program.save(str(tmp))
    tmp.replace(path)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    return path, onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
