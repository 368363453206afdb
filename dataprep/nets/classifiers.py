"""The bundled image classifiers, sized for CPU and for inputs from 8x8 to 64x64 pixels and up.

Every net takes ``(N, C_in, H, W)`` float32 images (``H = W = img_size``, values about 0..1)
and returns ``(N, num_classes)`` logits. Downsampling stops once the feature map is 1-2 pixels
wide, so the same architecture works on 8x8 scans and on 64x64 crops; spatial size is then
pooled (or flattened, for LeNet and AlexNet, whose FC head sees the last map).
"""

from __future__ import annotations

import torch
from torch import nn


def _pools(img_size: int, max_pools: int, min_side: int = 2) -> int:
    """How many 2x poolings fit before a side would drop under `min_side` pixels."""
    n, side = 0, img_size
    while n < max_pools and side // 2 >= min_side:
        side //= 2
        n += 1
    return n


def _pooled_side(side: int) -> int:
    """2x2 average-pooled head when the map's side is even, else 1x1: ONNX exports only whole-factor pools."""
    return 2 if side % 2 == 0 else 1


def _pool_or_identity(use: bool) -> nn.Module:
    return nn.MaxPool2d(2) if use else nn.Identity()


class LeNet(nn.Module):
    """LeNet: CONV20 5x5 -> ReLU -> pool -> CONV50 5x5 -> ReLU -> pool -> FC500 -> ReLU -> FC.

    Convolutions are padded ("same"), so an 8x8 input becomes 4x4 then 2x2 before the FC layers.
    """

    def __init__(self, num_classes: int, *, in_channels: int = 1, img_size: int = 28) -> None:
        super().__init__()
        pools = _pools(img_size, 2, min_side=1)
        side = img_size // 2**pools
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 20, 5, padding=2), nn.ReLU(inplace=True), _pool_or_identity(pools >= 1),
            nn.Conv2d(20, 50, 5, padding=2), nn.ReLU(inplace=True), _pool_or_identity(pools >= 2),
        )  # fmt: skip
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(50 * side * side, 500), nn.ReLU(inplace=True), nn.Linear(500, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))  # (N, C_in, S, S) -> (N, 50, S/4, S/4) -> (N, classes)


class AlexNet(nn.Module):
    """AlexNet-style: five 3x3 convolutions in three pooled stages (64-192-384-256-256), BN, dropout FC head."""

    def __init__(self, num_classes: int, *, in_channels: int = 3, img_size: int = 32, dropout: float = 0.5) -> None:
        super().__init__()
        pools = _pools(img_size, 3)
        side = img_size // 2**pools

        def conv(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        self.features = nn.Sequential(
            *conv(in_channels, 64), _pool_or_identity(pools >= 1),
            *conv(64, 192), _pool_or_identity(pools >= 2),
            *conv(192, 384), *conv(384, 256), *conv(256, 256), _pool_or_identity(pools >= 3),
        )  # fmt: skip
        out = _pooled_side(side)
        self.pool = nn.AdaptiveAvgPool2d(out)
        flat = 256 * out**2
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(flat, 512), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(512, num_classes),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)))


class MiniVGGNet(nn.Module):
    """MiniVGGNet: (CONV32 3x3 x2 -> pool -> dropout) -> (CONV64 3x3 x2 -> pool -> dropout) -> FC512 -> FC."""

    def __init__(self, num_classes: int, *, in_channels: int = 3, img_size: int = 32, dropout: float = 0.25) -> None:
        super().__init__()
        pools = _pools(img_size, 2)

        def block(cin: int, cout: int, pool: bool) -> list[nn.Module]:
            return [
                nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True), nn.BatchNorm2d(cout),
                nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(inplace=True), nn.BatchNorm2d(cout),
                _pool_or_identity(pool), nn.Dropout(dropout),
            ]  # fmt: skip

        self.features = nn.Sequential(*block(in_channels, 32, pools >= 1), *block(32, 64, pools >= 2))
        out = _pooled_side(img_size // 2**pools)
        self.pool = nn.AdaptiveAvgPool2d(out)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * out**2, 512), nn.ReLU(inplace=True), nn.BatchNorm1d(512),
            nn.Dropout(2 * dropout), nn.Linear(512, num_classes),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)))


class _ConvBN(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2 if stride == 1 else 0, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class _Inception(nn.Module):
    """MiniGoogLeNet inception module: a 1x1 and a 3x3 branch, concatenated on channels."""

    def __init__(self, cin: int, c1: int, c3: int) -> None:
        super().__init__()
        self.b1 = _ConvBN(cin, c1, 1)
        self.b3 = _ConvBN(cin, c3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b3(x)], dim=1)


class _Downsample(nn.Module):
    """MiniGoogLeNet downsample module: a stride-2 3x3 conv and a 3x3 max pool, concatenated."""

    def __init__(self, cin: int, c3: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(cin, c3, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c3), nn.ReLU(inplace=True)
        )
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.conv(x), self.pool(x)], dim=1)


class MiniGoogLeNet(nn.Module):
    """MiniGoogLeNet (Zhang et al. 2017's CIFAR net): conv, 2 inception, downsample, 4 inception,
    downsample, 2 inception, global pool, dropout, FC. Downsample modules are skipped on tiny inputs."""

    def __init__(self, num_classes: int, *, in_channels: int = 3, img_size: int = 32, dropout: float = 0.5) -> None:
        super().__init__()
        pools = _pools(img_size, 2)
        layers: list[nn.Module] = [_ConvBN(in_channels, 96, 3), _Inception(96, 32, 32), _Inception(64, 32, 48)]
        c = 80
        if pools >= 1:
            layers.append(_Downsample(c, 80))
            c += 80
        for c1, c3 in ((112, 48), (96, 64), (80, 80), (48, 96)):
            layers.append(_Inception(c, c1, c3))
            c = c1 + c3
        if pools >= 2:
            layers.append(_Downsample(c, 96))
            c += 96
        layers += [_Inception(c, 176, 160), _Inception(336, 176, 160)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(336, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class _Bottleneck(nn.Module):
    """ResNet bottleneck: 1x1 reduce -> 3x3 (stride) -> 1x1 expand (x4), plus the shortcut."""

    def __init__(self, cin: int, width: int, stride: int) -> None:
        super().__init__()
        cout = 4 * width
        self.body = nn.Sequential(
            nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(width),
            nn.ReLU(inplace=True), nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout),
        )  # fmt: skip
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


class ResNet(nn.Module):
    """A small bottleneck ResNet: 3x3 stem, three stages of `blocks` bottlenecks (width 16-32-64,
    output 64-128-256 channels), stride 2 between stages while the map is at least 4 px, global pool, FC."""

    def __init__(
        self, num_classes: int, *, in_channels: int = 3, img_size: int = 32, blocks: tuple[int, ...] = (2, 2, 2)
    ) -> None:
        super().__init__()
        pools = _pools(img_size, len(blocks) - 1)
        self.stem = _ConvBN(in_channels, 32, 3)
        layers: list[nn.Module] = []
        c = 32
        for stage, (n, width) in enumerate(zip(blocks, (16, 32, 64), strict=False)):
            for i in range(n):
                stride = 2 if i == 0 and 0 < stage <= pools else 1
                layers.append(_Bottleneck(c, width, stride))
                c = 4 * width
        self.stages = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))
