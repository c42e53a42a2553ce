"""Mixtures of 2D Gaussians, sampled on the device inside the train step.

The two standard mode-collapse benchmarks (Metz et al. 2017; Lin et al. 2018,
"PacGAN"): the ring of 8 Gaussians and the 5x5 grid of 25 Gaussians, each with
equal weights and an isotropic standard deviation.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class Mixture:
    """An equal-weight mixture of isotropic Gaussians in the plane.

    Attributes:
      name: short name, used in configs and plots.
      centers: the modes, a float32 array ``[num_modes, 2]``.
      std: the standard deviation of every component.
    """

    name: str
    centers: np.ndarray
    std: float

    @property
    def num_modes(self) -> int:
        return self.centers.shape[0]

    example_shape = (2,)

    def sample(self, key: jax.Array, num: int) -> jax.Array:
        """Draws ``num`` points, shape ``[num, 2]``; pure and jittable."""
        return self.sample_with_modes(key, num)[0]

    def sample_with_modes(self, key: jax.Array, num: int) -> tuple[jax.Array, jax.Array]:
        """Draws ``num`` points and the index of the mode each came from."""
        mode_key, noise_key = jax.random.split(key)
        modes = jax.random.randint(mode_key, (num,), 0, self.num_modes)
        noise = jax.random.normal(noise_key, (num, 2))
        return jnp.asarray(self.centers)[modes] + self.std * noise, modes

    def device_data(self) -> None:
        """Nothing to put on the device: a mixture is procedural."""
        return None

    def sample_real(self, key: jax.Array, step: jax.Array, data: None, num: int) -> jax.Array:
        """The sampler signature that :func:`jaxgan.step.make_sampling_step` takes.

        A mixture is procedural: it needs neither the step nor stored data.
        """
        del step, data
        return self.sample(key, num)

    def sample_labelled(self, key: jax.Array, step: jax.Array, data: None,
                        num: int) -> tuple[jax.Array, jax.Array]:
        """The conditional sampler: points labelled by their mode's index."""
        del step, data
        return self.sample_with_modes(key, num)

    @property
    def num_classes(self) -> int:
        return self.num_modes


def ring(num_modes: int = 8, radius: float = 1.0, std: float = 0.01) -> Mixture:
    """Gaussians evenly spaced on a circle, at angles ``2*pi*k/num_modes``."""
    angles = 2 * np.pi * np.arange(num_modes) / num_modes  # k = 0..n-1, no repeated endpoint
    centers = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return Mixture(f"ring{num_modes}", centers.astype(np.float32), std)


def grid(side: int = 5, spacing: float = 2.0, std: float = 0.05) -> Mixture:
    """Gaussians on a ``side`` x ``side`` grid centred on the origin."""
    coords = spacing * (np.arange(side) - (side - 1) / 2)
    xs, ys = np.meshgrid(coords, coords, indexing="ij")
    centers = np.stack([xs.ravel(), ys.ravel()], axis=1)
    return Mixture(f"grid{side * side}", centers.astype(np.float32), std)


MIXTURES = {"ring8": ring, "grid25": grid}


__all__ = ["MIXTURES", "Mixture", "grid", "ring"]
