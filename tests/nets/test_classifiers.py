"""The bundled classifiers: shapes from 8x8 to 64x64, grey and colour, and the LeNet layout the issue names."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dataprep.errors import UsageError
from dataprep.nets import CLASSIFIERS, NETS, LeNet, make_net


@pytest.mark.parametrize("name", CLASSIFIERS)
@pytest.mark.parametrize(("size", "channels"), [(8, 1), (28, 1), (32, 3), (64, 3)])
def test_logits_shape_for_every_input_size(name: str, size: int, channels: int) -> None:
    net = make_net(name, num_classes=7, in_channels=channels, img_size=size).eval()
    with torch.no_grad():
        assert net(torch.rand(2, channels, size, size)).shape == (2, 7)


def test_lenet_is_conv20_pool_conv50_pool_fc500_fc() -> None:
    net = LeNet(10, in_channels=1, img_size=28)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert [(c.out_channels, c.kernel_size) for c in convs] == [(20, (5, 5)), (50, (5, 5))]
    assert sum(isinstance(m, nn.MaxPool2d) for m in net.modules()) == 2
    assert [lin.out_features for lin in linears] == [500, 10]
    assert linears[0].in_features == 50 * 7 * 7


def test_classifiers_learn_a_batch() -> None:
    torch.manual_seed(0)
    x, y = torch.rand(8, 1, 8, 8), torch.arange(8) % 2
    x[y == 1, :, :4] += 1.0
    for name in ("lenet", "resnet"):  # the rest are covered by the one-epoch runs of tests/test_training.py
        net = make_net(name, num_classes=2, in_channels=1, img_size=8)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        first = None
        for _ in range(8):
            loss = nn.functional.cross_entropy(net(x), y)
            first = first if first is not None else loss.item()
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert loss.item() < first, name


def test_registry_and_unknown_names() -> None:
    assert set(CLASSIFIERS) | {"grid-detector"} == set(NETS)
    with pytest.raises(UsageError, match="unknown net"):
        make_net("vgg16", num_classes=2, in_channels=3, img_size=32)
    with pytest.raises(UsageError, match="layout"):
        make_net("grid-detector", num_classes=2, in_channels=3, img_size=32)
