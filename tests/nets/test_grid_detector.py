"""The grid detector and its loss agree with `dataprep.encoding`: layout, decode and the ignore rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataprep.data import DetectionCollate
from dataprep.encoding import anchor_layout, decode, encode
from dataprep.nets import GridDetector, LossGains, detection_loss

LAYOUT = anchor_layout([[8, 8], [16, 24], [32, 32]], img_size=64, strides=(16,), num_classes=3)
BOXES = np.array([[4.0, 6.0, 14.0, 15.0], [20.0, 18.0, 52.0, 50.0], [30.0, 2.0, 46.0, 26.0]])
CLASSES = np.array([0, 2, 1])
IMAGE = np.array([0, 0, 1])


def _targets() -> dict[str, torch.Tensor]:
    batch = [
        (torch.zeros(3, 64, 64), BOXES[k == IMAGE], CLASSES[k == IMAGE], k + 1) for k in range(2)
    ]  # collate encodes exactly as training does
    return DetectionCollate(LAYOUT)(batch)


def _perfect_outputs() -> list[torch.Tensor]:
    """Raw outputs that a perfect net would give: the encoded targets, inverted through the activations."""
    t = encode(BOXES, CLASSES, LAYOUT, image=IMAGE)
    out = torch.full((2, 3, 4, 4, 8), -12.0)
    for i in range(len(t)):
        cell = out[t.image[i], t.slot[i], t.row[i], t.col[i]]
        tx, ty = (float(np.clip(v, 1e-4, 1 - 1e-4)) for v in (t.tx[i], t.ty[i]))
        cell[0] = 12.0
        cell[1], cell[2] = np.log(tx / (1 - tx)), np.log(ty / (1 - ty))
        cell[3], cell[4] = float(t.tw[i]), float(t.th[i])
        cell[5 + t.class_index[i]] = 12.0
    return [out]


def test_output_is_the_layout_decode_reads() -> None:
    net = GridDetector(LAYOUT).eval()
    with torch.no_grad():
        (out,) = net(torch.rand(2, 3, 64, 64))
    assert out.shape == (2, 3, 4, 4, 5 + 3)
    table = decode([out], LAYOUT, conf_threshold=0.0)
    assert set(table["image_id"]) <= {0, 1}


def test_perfect_outputs_decode_to_the_boxes_and_cost_almost_nothing() -> None:
    outputs = _perfect_outputs()
    table = decode(outputs, LAYOUT, conf_threshold=0.5)
    got = table.sort_values(["image_id", "x_min"])[["x_min", "y_min", "x_max", "y_max"]].to_numpy()
    want = BOXES[np.lexsort((BOXES[:, 0], IMAGE))]
    np.testing.assert_allclose(got, want, atol=0.05)
    assert sorted(table["category_id"]) == sorted(CLASSES)
    batch = _targets()
    raw = outputs[0].clone().requires_grad_(True)
    loss, parts = detection_loss([raw], batch["targets"], batch["gt_boxes"], LAYOUT)
    assert parts["obj"] < 1e-3 and parts["noobj"] < 1e-3 and parts["cls"] < 1e-3
    loss.backward()
    assert raw.grad[..., 3:5].abs().max() < 1e-5  # w/h exactly at their targets


def test_ignore_rule_spares_a_good_box_in_another_slot() -> None:
    batch = _targets()
    outputs = _perfect_outputs()
    t = encode(BOXES, CLASSES, LAYOUT, image=IMAGE)
    # another anchor of the first box's cell predicts that same box with high objectness
    i = 0
    other = (int(t.slot[i]) + 1) % 3
    cell = outputs[0][int(t.image[i]), other, int(t.row[i]), int(t.col[i])]
    w = BOXES[0, 2] - BOXES[0, 0]
    h = BOXES[0, 3] - BOXES[0, 1]
    anchor = LAYOUT.anchors_px()[other]
    best = outputs[0][int(t.image[i]), int(t.slot[i]), int(t.row[i]), int(t.col[i])]
    cell[:5] = torch.tensor([8.0, float(best[1]), float(best[2]), np.log(w / anchor[0]), np.log(h / anchor[1])])
    _, spared = detection_loss(outputs, batch["targets"], batch["gt_boxes"], LAYOUT, LossGains(ignore_iou=0.5))
    _, punished = detection_loss(outputs, batch["targets"], batch["gt_boxes"], LAYOUT, LossGains(ignore_iou=1.01))
    assert spared["noobj"] < 1e-3 < punished["noobj"]
    assert punished["noobj"] == pytest.approx(8.0 / 2, abs=0.01)  # BCE(σ(8), 0) ≈ 8, summed, / batch of 2


def test_a_few_steps_lower_the_loss() -> None:
    torch.manual_seed(0)
    net = GridDetector(LAYOUT, width=8)
    batch = _targets()
    images = torch.rand(2, 3, 64, 64)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(10):
        loss, _ = detection_loss(net(images), batch["targets"], batch["gt_boxes"], LAYOUT)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_needs_a_one_scale_anchor_layout() -> None:
    with pytest.raises(ValueError, match="one-scale"):
        GridDetector(anchor_layout(img_size=64, num_classes=2))
