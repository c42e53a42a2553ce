"""Controllable generation: steering a trained generator through its latent space.

A trained generator ``G`` and a classifier ``f`` of the same data (class
logits) are enough to ask for a feature without retraining anything
(Shen et al. 2020 and the "controllable generation" lesson of most GAN
courses):

- :func:`edit_latents` moves latent vectors ``z`` by gradient ascent on the
  classifier's log-probability of a target class,

  .. math:: J(z) = \\log \\mathrm{softmax}(f(G(z)))_t
            - \\lambda \\frac{1}{C - 1} \\sum_{c \\ne t} |f(G(z))_c - f(G(z_0))_c|,

  where the second term (``other_weight`` = :math:`\\lambda`) penalises changes
  in the other classes' logits, so that the wanted feature moves and the rest
  stays. Each ``z`` stops once its target probability reaches
  ``stop_probability``; the whole path is returned. For a multi-label
  classifier of features (``features=True``: one independent sigmoid per
  logit, such as CelebA's attributes) the score is
  :math:`\\log \\sigma(f(G(z))_t)` instead, and the penalty keeps the other
  features where they were.
- :func:`interpolate_latents` walks the straight (or great-circle) line
  between two latents, and :func:`interpolate_classes` the line between two
  one-hot classes, for a conditional generator (whose modules take class
  weights as well as integer labels).

Everything here is pure ``jax``: ``generate`` is any function ``z -> images``
(for example ``lambda z: jaxgan.state.generate_from(recipe, state, z)``) and
``classify`` any function ``images -> logits``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class EditPath(NamedTuple):
    """The result of :func:`edit_latents` for ``B`` latents edited ``T`` steps.

    Attributes:
      latents: ``[T + 1, B, latent_dim]``, the start at index 0.
      logits: the classifier's logits for each latent's image, ``[T + 1, B, C]``.
      target_probability: the target class's probability, ``[T + 1, B]``.
      first_success: the first step at which each latent reached
        ``stop_probability`` (0 if it started there), or -1 if it never did.
    """

    latents: jax.Array
    logits: jax.Array
    target_probability: jax.Array
    first_success: jax.Array

    @property
    def final_latents(self) -> jax.Array:
        return self.latents[-1]


def edit_latents(
    generate: Callable[[jax.Array], jax.Array],
    classify: Callable[[jax.Array], jax.Array],
    z: jax.Array,
    target: int | jax.Array,
    num_steps: int = 100,
    learning_rate: float = 0.05,
    other_weight: float = 0.0,
    stop_probability: float | None = 0.9,
    features: bool = False,
    optimizer: optax.GradientTransformation | None = None,
) -> EditPath:
    """Moves each latent in ``z`` towards images the classifier calls ``target``.

    Args:
      generate: ``z [B, latent_dim] -> images [B, ...]``, in inference mode
        (so that each image depends on its own ``z`` only).
      classify: ``images -> logits [B, C]``.
      z: the starting latents, ``[B, latent_dim]``.
      target: the class to move towards, one for all or ``[B]``.
      num_steps: gradient steps.
      learning_rate: the step size of the default optimizer, Adam (its steps
        have about this length per coordinate, whatever the scale of the
        classifier's gradients).
      other_weight: :math:`\\lambda` of the module docstring; 0 lets the other
        classes' logits move freely.
      stop_probability: a latent stops moving once its target probability
        reaches this; ``None`` never stops.
      features: the logits are independent features (sigmoid per logit)
        rather than exclusive classes (softmax over logits).
      optimizer: an optax transformation to use instead of Adam.

    Returns:
      The path, as an :class:`EditPath`. Jit-compatible.
    """
    if num_steps < 1:
        raise ValueError(f"num_steps must be at least 1, got {num_steps}")
    if z.ndim != 2:
        raise ValueError(f"z must be [batch, latent_dim], got shape {z.shape}")
    target = jnp.broadcast_to(jnp.asarray(target, jnp.int32), z.shape[:1])
    optimizer = optimizer or optax.adam(learning_rate)
    start_logits = classify(generate(z))
    num_classes = start_logits.shape[-1]
    others = 1.0 - jax.nn.one_hot(target, num_classes)  # [B, C]
    log_probabilities = jax.nn.log_sigmoid if features else jax.nn.log_softmax

    def log_target(logits):  # [..., B, C] -> [..., B]: the target's log-probability
        index = target.reshape((1,) * (logits.ndim - 2) + (-1, 1))
        return jnp.take_along_axis(log_probabilities(logits), index, -1)[..., 0]

    def target_probability(logits):
        return jnp.exp(log_target(logits))

    def objective(z):
        """Sum over the batch of each latent's J (latents do not interact)."""
        logits = classify(generate(z))
        score = log_target(logits)
        drift = jnp.sum(jnp.abs(logits - start_logits) * others, -1) / max(num_classes - 1, 1)
        return jnp.sum(score - other_weight * drift), logits

    def reached(logits):
        if stop_probability is None:
            return jnp.zeros(logits.shape[:1], bool)
        return target_probability(logits) >= stop_probability

    def step(carry, _):
        z, opt_state, done = carry
        (_, logits), grads = jax.value_and_grad(objective, has_aux=True)(z)
        done = done | reached(logits)
        # Ascent: optax minimises, so hand it the negated gradient.
        updates, opt_state = optimizer.update(jax.tree.map(jnp.negative, grads), opt_state, z)
        z_next = jnp.where(done[:, None], z, optax.apply_updates(z, updates))
        return (z_next, opt_state, done), (z, logits)

    init = (z, optimizer.init(z), jnp.zeros(z.shape[:1], bool))
    (z_last, _, _), (latents, logits) = jax.lax.scan(step, init, None, length=num_steps)
    last_logits = classify(generate(z_last))
    latents = jnp.concatenate([latents, z_last[None]])
    logits = jnp.concatenate([logits, last_logits[None]])
    probability = target_probability(logits)
    if stop_probability is None:
        first_success = jnp.full(z.shape[:1], -1)
    else:
        hit = probability >= stop_probability
        first_success = jnp.where(hit.any(0), jnp.argmax(hit, 0), -1)
    return EditPath(latents, logits, probability, first_success)


def interpolate_latents(z0: jax.Array, z1: jax.Array, num: int,
                        spherical: bool = False) -> jax.Array:
    """``num`` latents from ``z0`` to ``z1`` inclusive, ``[num, *z0.shape]``.

    Linear by default. ``spherical`` follows the great circle between them
    with the norm interpolated linearly, which keeps intermediate latents at a
    typical norm for a Gaussian prior in many dimensions (White 2016). The
    endpoints are ``z0`` and ``z1`` exactly.
    """
    if num < 2:
        raise ValueError(f"num must be at least 2 to include both endpoints, got {num}")
    if z0.shape != z1.shape:
        raise ValueError(f"z0 and z1 must have the same shape, got {z0.shape} and {z1.shape}")
    t = jnp.linspace(0.0, 1.0, num).reshape((num,) + (1,) * z0.ndim)
    if not spherical:
        path = (1 - t) * z0 + t * z1
    else:
        n0 = jnp.linalg.norm(z0, axis=-1, keepdims=True)
        n1 = jnp.linalg.norm(z1, axis=-1, keepdims=True)
        u0, u1 = z0 / n0, z1 / n1
        omega = jnp.arccos(jnp.clip(jnp.sum(u0 * u1, -1, keepdims=True), -1.0, 1.0))
        # Nearly parallel latents: the circle is the line.
        safe = jnp.maximum(jnp.sin(omega), 1e-6)
        direction = jnp.where(omega > 1e-3,
                              (jnp.sin((1 - t) * omega) * u0 + jnp.sin(t * omega) * u1) / safe,
                              (1 - t) * u0 + t * u1)
        path = direction * ((1 - t) * n0 + t * n1)
    # Exact endpoints, whatever the rounding of the formulas above.
    return path.at[0].set(z0).at[-1].set(z1)


def interpolate_classes(label_a: int, label_b: int, num_classes: int, num: int) -> jax.Array:
    """Class weights ``[num, num_classes]`` from one-hot ``label_a`` to one-hot ``label_b``.

    Conditional generators take these in place of integer labels; the first
    and last rows are exactly the one-hot vectors of the two classes.
    """
    for name, label in (("label_a", label_a), ("label_b", label_b)):
        if not 0 <= label < num_classes:
            raise ValueError(f"{name}={label} is not a class of 0..{num_classes - 1}")
    return interpolate_latents(jax.nn.one_hot(label_a, num_classes),
                               jax.nn.one_hot(label_b, num_classes), num)


__all__ = ["EditPath", "edit_latents", "interpolate_classes", "interpolate_latents"]
