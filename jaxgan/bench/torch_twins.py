"""PyTorch twins of jaxgan's benchmark models, and the weight copy between them.

Each twin computes the same function as its jaxgan module: the same layers in
the same order, BatchNorm with PyTorch's ``momentum=0.1`` (flax's 0.9) and
``eps=1e-5``, logits out of the discriminator. :func:`copy_weights` copies a
jaxgan model's initial parameters into its twin, so both frameworks start
from identical weights, and :class:`TorchGAN` runs jaxgan's train-step
algorithm (:mod:`jaxgan.step`) in PyTorch: ``n_disc`` discriminator updates,
each on fresh noise, then one generator update on fresh noise, through the
discriminator as just updated.

PyTorch is imported here only; the library itself never needs it.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class ChannelLayerNorm(nn.Module):
    """flax ``LayerNorm(reduction_axes=(1, 2, 3), feature_axes=-1)`` on NCHW:
    statistics over each example's C, H and W, scale and bias per channel."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        var = x.var(dim=(1, 2, 3), keepdim=True, unbiased=False)
        x = (x - mean) * torch.rsqrt(var + self.eps)
        return x * self.weight[None, :, None, None] + self.bias[None, :, None, None]


def _plan(resolution: int) -> tuple[int, int]:
    return (7, 2) if resolution == 28 else (4, {32: 3, 64: 4}[resolution])


def dcgan_generator(resolution: int, channels: int, width: int, latent_dim: int) -> nn.Module:
    """The PyTorch DCGAN example's generator (``ngf = width``), generalised to
    28 and 32 pixels as :class:`jaxgan.DCGANGenerator` is."""
    start, doublings = _plan(resolution)
    features = width * 2 ** (doublings - 1)
    layers = [nn.Unflatten(1, (latent_dim, 1, 1)),
              nn.ConvTranspose2d(latent_dim, features, start, 1, 0, bias=False),
              nn.BatchNorm2d(features), nn.ReLU(True)]
    for i in range(doublings):
        last = i == doublings - 1
        out = channels if last else features // 2
        layers.append(nn.ConvTranspose2d(features, out, 4, 2, 1, bias=False))
        layers += [nn.Tanh()] if last else [nn.BatchNorm2d(out), nn.ReLU(True)]
        features = out
    return nn.Sequential(*layers)


def dcgan_discriminator(resolution: int, channels: int, width: int,
                        normalization: str = "batch") -> nn.Module:
    """The PyTorch DCGAN example's discriminator (``ndf = width``) returning
    logits; ``normalization="layer"`` is the WGAN-GP critic's LayerNorm."""
    if normalization not in ("batch", "layer"):
        raise ValueError(f"the PyTorch twin has no {normalization!r} normalization")
    start, doublings = _plan(resolution)
    layers, features, previous = [], width, channels
    for i in range(doublings):
        layers.append(nn.Conv2d(previous, features, 4, 2, 1, bias=False))
        if i > 0:
            layers.append(nn.BatchNorm2d(features) if normalization == "batch"
                          else ChannelLayerNorm(features))
        layers.append(nn.LeakyReLU(0.2, inplace=True))
        previous, features = features, features * 2
    layers += [nn.Conv2d(previous, 1, start, 1, 0, bias=False), nn.Flatten(0)]
    return nn.Sequential(*layers)


def mlp_generator(latent_dim: int, features, output_dim: int) -> nn.Module:
    """:class:`jaxgan.MLPGenerator` with BatchNorm: Linear (no bias) + BatchNorm + ReLU."""
    layers, previous = [], latent_dim
    for width in features:
        layers += [nn.Linear(previous, width, bias=False), nn.BatchNorm1d(width), nn.ReLU(True)]
        previous = width
    return nn.Sequential(*layers, nn.Linear(previous, output_dim))


def mlp_discriminator(input_dim: int, features) -> nn.Module:
    """:class:`jaxgan.MLPDiscriminator`: Linear + LeakyReLU(0.2), then one logit."""
    layers, previous = [], input_dim
    for width in features:
        layers += [nn.Linear(previous, width), nn.LeakyReLU(0.2, inplace=True)]
        previous = width
    return nn.Sequential(*layers, nn.Linear(previous, 1), nn.Flatten(0))


def copy_weights(variables: dict, module: nn.Module) -> None:
    """Copies a jaxgan model's ``{"params", "batch_stats"}`` into its twin.

    flax creates parameters in call order, which is the twin's layer order,
    so the leaves pair up by position within each kind of layer.
    """
    params = variables["params"]
    stats = variables.get("batch_stats", {})
    # Keys in creation order: flax keeps the dict in the order the module made them.
    convs = [params[name] for name in params if "kernel" in params[name]]
    norms = [name for name in params if name.startswith(("BatchNorm", "LayerNorm"))]
    weighted = [m for m in module.modules()
                if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear)]
    normalizers = [m for m in module.modules()
                   if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d | ChannelLayerNorm)]
    if len(convs) != len(weighted) or len(norms) != len(normalizers):
        raise ValueError(f"{type(module).__name__} does not mirror the flax parameters "
                         f"{list(params)}")

    def put(target, value):
        value = torch.from_numpy(np.array(value, np.float32))
        if value.shape != target.shape:  # copy_ would broadcast
            raise ValueError(f"{type(module).__name__}: a flax leaf of shape "
                             f"{tuple(value.shape)} meets a tensor of shape {tuple(target.shape)}")
        target.data.copy_(value)

    with torch.no_grad():
        for leaf, layer in zip(convs, weighted, strict=True):
            kernel = np.asarray(leaf["kernel"])
            if isinstance(layer, nn.Linear):
                put(layer.weight, kernel.T)
            elif isinstance(layer, nn.ConvTranspose2d):  # [h, w, in, out] -> [in, out, h, w]
                put(layer.weight, kernel.transpose(2, 3, 0, 1))
            else:  # [h, w, in, out] -> [out, in, h, w]
                put(layer.weight, kernel.transpose(3, 2, 0, 1))
            if "bias" in leaf:
                put(layer.bias, leaf["bias"])
        for name, layer in zip(norms, normalizers, strict=True):
            put(layer.weight, params[name]["scale"])
            put(layer.bias, params[name]["bias"])
            if name in stats:
                put(layer.running_mean, stats[name]["mean"])
                put(layer.running_var, stats[name]["var"])


class TorchGAN:
    """jaxgan's train step in PyTorch (see the module docstring).

    Args:
      generator, discriminator: twins, already holding the copied weights.
      loss: ``"bce"`` (non-saturating) or ``"wasserstein"``.
      n_disc: discriminator updates per step.
      penalty_weight: the WGAN-GP gradient penalty's lambda, or 0.
      adam: ``(learning_rate, b1, b2)`` for both networks.
      tuned: the tuned eager variant: no discriminator weight gradients in the
        generator update, gradients set to ``None`` rather than zeroed, fused
        Adam, no per-step host sync. Otherwise the PyTorch DCGAN example's
        way: separate backward passes for real and fake, ``.item()`` on the
        losses every step, the default Adam.
      compute_dtype: ``"float32"``, or ``"bfloat16"`` for the forward passes
        under ``torch.autocast`` (PyTorch's mixed precision: the weights and
        optimizer stay float32; the backward passes follow the forward's dtypes).
    """

    def __init__(self, generator, discriminator, latent_dim: int, loss: str = "bce",
                 n_disc: int = 1, penalty_weight: float = 0.0, adam=(2e-4, 0.5, 0.999),
                 tuned: bool = False, compute_dtype: str = "float32"):
        if compute_dtype not in ("float32", "bfloat16"):
            raise ValueError(f"compute_dtype must be float32 or bfloat16, got {compute_dtype!r}")
        self.compute_dtype = compute_dtype
        self.G, self.D = generator, discriminator
        self.latent_dim, self.loss, self.n_disc = latent_dim, loss, n_disc
        self.penalty_weight, self.tuned = penalty_weight, tuned
        lr, b1, b2 = adam
        extra = {"fused": True} if tuned else {}
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr, betas=(b1, b2), **extra)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr, betas=(b1, b2), **extra)

    def _d_losses(self, real_logits, fake_logits):
        if self.loss == "bce":
            return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits)),
                    F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
        return -real_logits.mean(), fake_logits.mean()

    def _g_loss(self, fake_logits):
        if self.loss == "bce":
            return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
        return -fake_logits.mean()

    def _forward(self, device):
        """The context of a forward pass: autocast to bfloat16, or nothing."""
        if self.compute_dtype == "float32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)

    def _penalty(self, real, fake, eps):
        x = (eps * real + (1 - eps) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.D(x).sum(), x, create_graph=True)
        norm = torch.sqrt(grad.flatten(1).pow(2).sum(1) + 1e-12)
        return ((norm - 1) ** 2).mean()

    def step(self, real, noise=None, eps=None):
        """One train step on ``real [n_disc, B, ...]``.

        ``noise`` (``[n_disc + 1, B, latent_dim]``) and ``eps`` (``[n_disc, B]``,
        the penalty's interpolation weights) come from jaxgan in the parity
        check; otherwise they are drawn here. Returns ``(d_loss, g_loss)``:
        floats in the example's way, tensors when tuned (read them later).
        """
        batch = real.shape[1]
        if noise is None:
            noise = torch.randn(self.n_disc + 1, batch, self.latent_dim, device=real.device)
        if eps is None and self.penalty_weight:
            eps = torch.rand(self.n_disc, batch, device=real.device)
        d_total = 0.0
        for i in range(self.n_disc):
            with self._forward(real.device):
                if self.tuned:
                    with torch.no_grad():
                        fake = self.G(noise[i])
                    self.opt_d.zero_grad(set_to_none=True)
                else:
                    fake = self.G(noise[i]).detach()
                    self.D.zero_grad()
                real_loss, fake_loss = self._d_losses(self.D(real[i]), self.D(fake))
                loss = real_loss + fake_loss
                penalty = 0.0
                if self.penalty_weight:
                    shape = (batch,) + (1,) * (real.ndim - 2)
                    penalty = self.penalty_weight * self._penalty(real[i], fake,
                                                                  eps[i].reshape(shape))
            if self.tuned:
                (loss + penalty).backward()
            else:  # the example's two backward passes
                real_loss.backward()
                (fake_loss + penalty).backward()
            self.opt_d.step()
            d_total = d_total + (loss.detach() if self.tuned else loss.item())
        if self.tuned:
            self.D.requires_grad_(False)
            self.opt_g.zero_grad(set_to_none=True)
        else:
            self.G.zero_grad()
        with self._forward(real.device):
            g_loss = self._g_loss(self.D(self.G(noise[self.n_disc])))
        g_loss.backward()
        self.opt_g.step()
        if self.tuned:
            self.D.requires_grad_(True)
            return d_total / self.n_disc, g_loss.detach()
        return d_total / self.n_disc, g_loss.item()
