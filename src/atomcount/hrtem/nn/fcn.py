"""Encoder-decoder FCN for column heights (paper 000 Fig. 1; Madsen et al. 2018).

Three max-pool levels with residual blocks, skip connections by concatenation and
bilinear up-sampling. Two heads on one trunk:

* ``regression``: 1×1 convolution + ReLU → one map whose value at a column equals its
  height (trained with a pixel MSE/RMSE);
* ``classification``: 1×1 convolution → 16 logits (background + heights 1…15),
  softmax at inference.

Any input whose sides are divisible by 8 (16 with ``input_stride=2``) is accepted.

``input_stride=2`` runs the whole trunk at half resolution: the image enters as its 2×2
pixel blocks stacked into 4 channels (space-to-depth, lossless) and each head predicts the
2×2 block of its full-resolution map (depth-to-space). At 0.25 Å/px the closest Au columns
([110], 1.44 Å) are still 2.9 trunk pixels apart, and every stage costs a quarter.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class ResidualBlock(nn.Module):
    """Two 3×3 convolutions with batch norm and an identity shortcut."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(x + self.bn2(self.conv2(y)))


class _Stage(nn.Sequential):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            ResidualBlock(c_out),
        )


class ColumnFCN(nn.Module):
    """Encoder-decoder with a regression and a classification head.

    Parameters
    ----------
    width : int
        Channels of the first stage; doubles at each of the three pooling levels.
    n_classes : int
        Classes of the classification head (background + heights).
    input_stride : {1, 2}
        Resolution of the trunk relative to the image (see the module docstring).

    Examples
    --------
    >>> net = ColumnFCN(width=4)
    >>> out = net(torch.zeros(1, 1, 32, 32))
    >>> tuple(out["regression"].shape), tuple(out["classification"].shape)
    ((1, 1, 32, 32), (1, 16, 32, 32))
    """

    levels = 3

    def __init__(self, width: int = 16, n_classes: int = 16, input_stride: int = 1) -> None:
        super().__init__()
        if input_stride not in (1, 2):
            raise ValueError(f"input_stride must be 1 or 2, got {input_stride}")
        w = [width * 2**i for i in range(self.levels + 1)]
        self.width = width
        self.n_classes = n_classes
        self.input_stride = input_stride
        block = input_stride**2
        self.down = nn.ModuleList([_Stage(block, w[0])] + [_Stage(w[i], w[i + 1]) for i in range(self.levels)])
        self.up = nn.ModuleList([_Stage(w[i + 1] + w[i], w[i]) for i in reversed(range(self.levels))])
        self.regression = nn.Conv2d(w[0], block, 1)
        self.classification = nn.Conv2d(w[0], n_classes * block, 1)

    @property
    def multiple(self) -> int:
        """Input sides must be multiples of this (pixels)."""
        return 2**self.levels * self.input_stride

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Map images (B, 1, H, W) to ``{"regression": (B,1,H,W), "classification": logits}``."""
        m = self.multiple
        if x.shape[-1] % m or x.shape[-2] % m:
            raise ValueError(f"input sides must be divisible by {m}, got {tuple(x.shape[-2:])}")
        if self.input_stride > 1:
            x = F.pixel_unshuffle(x, self.input_stride)
        skips = []
        for i, stage in enumerate(self.down):
            x = stage(x)
            if i < self.levels:
                skips.append(x)
                x = F.max_pool2d(x, 2)
        for stage in self.up:
            skip = skips.pop()
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = stage(torch.cat([x, skip], dim=1))
        reg, cls = self.regression(x), self.classification(x)
        if self.input_stride > 1:
            reg, cls = F.pixel_shuffle(reg, self.input_stride), F.pixel_shuffle(cls, self.input_stride)
        return {"regression": F.relu(reg), "classification": cls}

    def config(self) -> dict:
        """Constructor arguments (stored in checkpoints)."""
        return {"width": self.width, "n_classes": self.n_classes, "input_stride": self.input_stride}


def widen(model: ColumnFCN, generator: torch.Generator | None = None, split: float = 0.1) -> ColumnFCN:
    """A network of twice the width that computes exactly the maps of ``model`` (Net2WiderNet).

    Every trunk channel c of width C gets a copy c + C with the same incoming weights and batch-norm
    state; each weight that reads channel c is shared between the two copies as ½ + ε and ½ − ε
    (ε uniform in ±``split``, drawn per weight), so every sum, and so every output, is unchanged while
    the copies get different gradients and can learn different features. The first convolution's
    input (the image) and the heads' outputs are not widened.

    Parameters
    ----------
    model : ColumnFCN
        The network to widen (not modified).
    generator : torch.Generator, optional
        Source of the ε.
    split : float
        Largest |ε|.

    Returns
    -------
    ColumnFCN
        Width ``2 * model.width``, same stride and classes, in ``model``'s training mode.
    """
    w = [model.width * 2**i for i in range(model.levels + 1)]
    wide = ColumnFCN(width=2 * model.width, n_classes=model.n_classes, input_stride=model.input_stride)
    wide.train(model.training)

    def copies(c: int) -> torch.Tensor:  # index of the old channel behind each of 2c new ones
        return torch.arange(2 * c) % c

    def conv(src: nn.Conv2d, dst: nn.Conv2d, out_map: torch.Tensor, in_map: torch.Tensor | None) -> None:
        weight = src.weight.detach()[out_map]
        if in_map is not None:  # widened input: share each weight between the two copies of its channel
            eps = (torch.rand(weight.shape[0], len(in_map) // 2, generator=generator, dtype=weight.dtype) * 2 - 1) * split
            first = torch.ones(len(in_map), dtype=torch.bool)  # the first of the two copies of each channel
            first[in_map.argsort(stable=True)[1::2]] = False
            share = torch.where(first, 0.5 + eps[:, in_map], 0.5 - eps[:, in_map])
            weight = weight[:, in_map] * share[:, :, None, None]
        dst.weight.data.copy_(weight)
        if src.bias is not None:
            dst.bias.data.copy_(src.bias.detach()[out_map])

    def bn(src: nn.BatchNorm2d, dst: nn.BatchNorm2d, out_map: torch.Tensor) -> None:
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(dst, name).data.copy_(getattr(src, name).detach()[out_map])
        dst.num_batches_tracked.copy_(src.num_batches_tracked)

    def stage(src: nn.Sequential, dst: nn.Sequential, c_out: int, in_map: torch.Tensor | None) -> None:
        out_map = copies(c_out)
        conv(src[0], dst[0], out_map, in_map)
        bn(src[1], dst[1], out_map)
        for a, b in (("conv1", "bn1"), ("conv2", "bn2")):
            conv(getattr(src[3], a), getattr(dst[3], a), out_map, out_map)
            bn(getattr(src[3], b), getattr(dst[3], b), out_map)

    with torch.no_grad():
        for i in range(model.levels + 1):
            stage(model.down[i], wide.down[i], w[i], None if i == 0 else copies(w[i - 1]))
        for k, i in enumerate(reversed(range(model.levels))):
            # input: cat([up-sampled level i + 1, skip of level i]), each widened in place
            stage(model.up[k], wide.up[k], w[i], torch.cat([copies(w[i + 1]), w[i + 1] + copies(w[i])]))
        for head in ("regression", "classification"):
            src = getattr(model, head)
            conv(src, getattr(wide, head), torch.arange(src.out_channels), copies(w[0]))
    return wide


def fold_batch_norm(model: ColumnFCN) -> ColumnFCN:
    """Fold every batch norm into the convolution before it, in place, for inference.

    In evaluation mode a batch norm is an affine map per channel, so conv → BN equals one
    convolution with rescaled weights and a bias; folding removes a pass over every
    feature map. The model is put in evaluation mode and must stay there (training would
    no longer normalise).
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    model.eval()
    for stage in [*model.down, *model.up]:
        stage[0] = fuse_conv_bn_eval(stage[0], stage[1])
        stage[1] = nn.Identity()
        block = stage[3]
        block.conv1, block.bn1 = fuse_conv_bn_eval(block.conv1, block.bn1), nn.Identity()
        block.conv2, block.bn2 = fuse_conv_bn_eval(block.conv2, block.bn2), nn.Identity()
    return model
