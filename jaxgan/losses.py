"""Adversarial losses on discriminator logits.

Every function here is pure, takes raw (pre-sigmoid) discriminator outputs and
returns an *unreduced* array of per-example losses, in the style of
``optax.losses``; the train step takes the mean. Discriminator losses take
``(real_logits, fake_logits)`` of the same shape and return their per-example
sum; generator losses take ``fake_logits``. Both sides are written as losses to
*minimise*.

The BCE family is computed from logits with log-sigmoid identities, so it stays
finite and exact at any logit value (``log(sigmoid(x))`` in float32 is ``-inf``
already at ``x = -104``):

* ``log D(x) = log sigmoid(x) = -softplus(-x)``
* ``log(1 - D(x)) = log sigmoid(-x) = -softplus(x)``

A *loss pair* bundles the discriminator and generator sides that belong
together; :func:`get_loss_pair` looks one up by name for configs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

Array = jax.Array


# --------------------------------------------------------------------------
# Binary cross-entropy family (Goodfellow et al. 2014)
# --------------------------------------------------------------------------


def bce_discriminator_loss(
    real_logits: Array, fake_logits: Array, real_label: float = 1.0
) -> Array:
    r"""Binary cross-entropy loss of the discriminator.

    .. math::
        \ell_D = -t \log D(x) - (1 - t) \log(1 - D(x)) - \log(1 - D(G(z)))

    with :math:`D = \sigma(\text{logit})`. ``real_label`` is the target
    :math:`t` for real data: 1 is the plain loss; 0.9 is one-sided label
    smoothing (Salimans et al. 2016), which softens only the real targets and
    leaves the fake target at 0.

    Args:
      real_logits: discriminator logits on real data, shape ``[...]``.
      fake_logits: logits on generated data, same shape.
      real_label: target probability for real data, in (0, 1].

    Returns:
      Per-example losses, shape ``[...]``.

    Example:
      >>> bce_discriminator_loss(jnp.zeros(2), jnp.zeros(2))  # 2 log 2
      Array([1.3862944, 1.3862944], dtype=float32)
    """
    real = optax.sigmoid_binary_cross_entropy(real_logits, jnp.full_like(real_logits, real_label))
    fake = optax.sigmoid_binary_cross_entropy(fake_logits, jnp.zeros_like(fake_logits))
    return real + fake


def minimax_generator_loss(fake_logits: Array) -> Array:
    r"""The generator's original (saturating) minimax loss.

    .. math:: \ell_G = \log(1 - D(G(z))) = -\operatorname{softplus}(\text{logit})

    The generator minimises it, i.e. plays the zero-sum game against
    :func:`bce_discriminator_loss`. Its gradient vanishes when the
    discriminator confidently rejects fakes (logit -> -inf), which is why
    :func:`non_saturating_generator_loss` is the usual choice.
    """
    return -jax.nn.softplus(fake_logits)


def non_saturating_generator_loss(fake_logits: Array) -> Array:
    r"""The generator's non-saturating loss (Goodfellow et al. 2014, sec. 3).

    .. math:: \ell_G = -\log D(G(z)) = \operatorname{softplus}(-\text{logit})

    Same fixed point as the minimax loss, but strong gradients early in
    training when the discriminator wins easily.
    """
    return optax.sigmoid_binary_cross_entropy(fake_logits, jnp.ones_like(fake_logits))


# --------------------------------------------------------------------------
# Wasserstein (Arjovsky et al. 2017)
# --------------------------------------------------------------------------


def wasserstein_critic_loss(real_logits: Array, fake_logits: Array) -> Array:
    r"""Wasserstein critic loss: :math:`\ell_D = f(G(z)) - f(x)`.

    The critic maximises :math:`f(x) - f(G(z))`, an estimate of the
    Wasserstein-1 distance when :math:`f` is 1-Lipschitz (enforced separately,
    e.g. by a gradient penalty).
    """
    return fake_logits - real_logits


def wasserstein_generator_loss(fake_logits: Array) -> Array:
    r"""Wasserstein generator loss: :math:`\ell_G = -f(G(z))`."""
    return -fake_logits


# --------------------------------------------------------------------------
# Hinge (Lim & Ye 2017; Miyato et al. 2018)
# --------------------------------------------------------------------------


def hinge_discriminator_loss(real_logits: Array, fake_logits: Array) -> Array:
    r"""Hinge loss of the discriminator.

    .. math:: \ell_D = \max(0, 1 - D(x)) + \max(0, 1 + D(G(z)))
    """
    real = optax.hinge_loss(real_logits, jnp.ones_like(real_logits))
    fake = optax.hinge_loss(fake_logits, -jnp.ones_like(fake_logits))
    return real + fake


# The hinge generator loss is the Wasserstein one: minimise -D(G(z)).
hinge_generator_loss = wasserstein_generator_loss


# --------------------------------------------------------------------------
# Least squares (Mao et al. 2017), with the 0-1 coding a=0, b=1, c=1
# --------------------------------------------------------------------------


def least_squares_discriminator_loss(real_logits: Array, fake_logits: Array) -> Array:
    r"""Least-squares discriminator loss.

    .. math:: \ell_D = \tfrac12 (D(x) - 1)^2 + \tfrac12 D(G(z))^2
    """
    return optax.l2_loss(real_logits, jnp.ones_like(real_logits)) + optax.l2_loss(fake_logits)


def least_squares_generator_loss(fake_logits: Array) -> Array:
    r"""Least-squares generator loss: :math:`\ell_G = \tfrac12 (D(G(z)) - 1)^2`."""
    return optax.l2_loss(fake_logits, jnp.ones_like(fake_logits))


# --------------------------------------------------------------------------
# Relativistic pairing (Jolicoeur-Martineau 2019; Huang et al. 2024, "R3GAN")
# --------------------------------------------------------------------------


def relativistic_discriminator_loss(real_logits: Array, fake_logits: Array) -> Array:
    r"""Relativistic pairing loss of the discriminator, per pair.

    .. math:: \ell_D = \operatorname{softplus}(D(G(z_i)) - D(x_i))
              = -\log \sigma(D(x_i) - D(G(z_i)))

    Real example ``i`` is paired with fake example ``i``: the discriminator
    is asked only to score each real example above its fake partner, which
    the paper shows removes the mode-dropping optima of the plain BCE game.
    """
    return jax.nn.softplus(fake_logits - real_logits)


def relativistic_generator_loss(fake_logits: Array, real_logits: Array) -> Array:
    r"""Relativistic pairing loss of the generator, per pair:
    :math:`\ell_G = \operatorname{softplus}(D(x_i) - D(G(z_i)))`.

    It takes the real logits too, which its ``uses_real_logits`` attribute
    tells :class:`jaxgan.GANRecipe` (the step then passes them).
    """
    return jax.nn.softplus(real_logits - fake_logits)


# Read by GANRecipe: this generator loss is called as g(fake_logits, real_logits).
relativistic_generator_loss.uses_real_logits = True


@dataclasses.dataclass(frozen=True)
class ScaledLoss:
    """A generator loss times a constant weight (see :func:`scaled`)."""

    loss: Callable[..., Array]
    weight: float

    @property
    def uses_real_logits(self) -> bool:
        return bool(getattr(self.loss, "uses_real_logits", False))

    def __call__(self, *logits: Array) -> Array:
        return self.weight * self.loss(*logits)


def scaled(loss: Callable[..., Array], weight: float) -> Callable[..., Array]:
    """``loss`` times ``weight`` (>= 0); ``loss`` itself at weight 1.

    A translation generator's adversarial term beside its reconstruction
    loss: weight 0 trains on the reconstruction alone, the L1 baseline that
    Pix2Pix's adversarial term is meant to sharpen. A frozen dataclass, so
    that two recipes built alike compare equal.
    """
    if not isinstance(weight, int | float) or isinstance(weight, bool) or not weight >= 0:
        raise ValueError(f"the adversarial loss weight must be a number >= 0, got {weight!r}")
    return loss if weight == 1 else ScaledLoss(loss, float(weight))


# --------------------------------------------------------------------------
# Reconstruction, for image-to-image translation (Pix2Pix)
# --------------------------------------------------------------------------


def l1_reconstruction_loss(outputs: Array, targets: Array) -> Array:
    """The mean absolute difference per example, ``[B, ...] x [B, ...] -> [B]``.

    Pix2Pix (Isola et al. 2017) adds it, weighted by lambda = 100, to the
    generator's adversarial loss: it ties the output to the paired target at
    the large scale and leaves the discriminator the local texture, and it
    blurs less than the L2 distance does.
    """
    difference = jnp.abs(outputs.astype(jnp.float32) - targets.astype(jnp.float32))
    return difference.reshape(difference.shape[0], -1).mean(axis=1)


# --------------------------------------------------------------------------
# Auxiliary classification, for a conditional GAN (AC-GAN)
# --------------------------------------------------------------------------


def class_cross_entropy(class_logits: Array, labels: Array) -> Array:
    """The cross-entropy of integer ``labels [B]`` under ``class_logits [B,
    K]``, per example ``[B]``.

    AC-GAN's auxiliary loss (Odena et al. 2017), in the variant the train
    step uses: the discriminator's class head learns to classify real images
    only (AC-GAN trains it on fakes too, which rewards fakes that are easy to
    classify), and the generator is pushed to draw images that head reads as
    the class it was asked for. optax computes it from the logits with a
    stable log-softmax.
    """
    return optax.softmax_cross_entropy_with_integer_labels(
        class_logits.astype(jnp.float32), labels)


# --------------------------------------------------------------------------
# Named pairs, for configs
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LossPair:
    """A discriminator loss and the generator loss that plays against it."""

    discriminator: Callable[[Array, Array], Array]
    generator: Callable[..., Array]


LOSS_NAMES = ("non_saturating", "minimax", "wasserstein", "hinge", "least_squares",
              "relativistic")


def get_loss_pair(name: str, real_label: float = 1.0) -> LossPair:
    """Returns the loss pair called ``name`` (one of :data:`LOSS_NAMES`).

    ``real_label`` < 1 applies one-sided label smoothing; only the BCE pairs
    (``non_saturating`` and ``minimax``) have labels to smooth.
    """
    if name not in LOSS_NAMES:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSS_NAMES)}")
    if not 0.0 < real_label <= 1.0:
        raise ValueError(f"real_label must be in (0, 1], got {real_label}")
    if real_label != 1.0 and name not in ("non_saturating", "minimax"):
        raise ValueError(f"label smoothing (real_label={real_label}) applies only to BCE losses, "
                         f"not to {name!r}; set real_label=1.0")
    if name in ("non_saturating", "minimax"):
        generator = (non_saturating_generator_loss if name == "non_saturating"
                     else minimax_generator_loss)
        return LossPair(_BCEDiscriminatorLoss(real_label), generator)
    return {
        "wasserstein": LossPair(wasserstein_critic_loss, wasserstein_generator_loss),
        "hinge": LossPair(hinge_discriminator_loss, hinge_generator_loss),
        "least_squares": LossPair(least_squares_discriminator_loss,
                                  least_squares_generator_loss),
        "relativistic": LossPair(relativistic_discriminator_loss, relativistic_generator_loss),
    }[name]


@dataclasses.dataclass(frozen=True)
class _BCEDiscriminatorLoss:
    """``bce_discriminator_loss`` with a bound ``real_label``.

    A frozen dataclass rather than ``functools.partial`` so that two recipes
    built from the same config compare equal (and so share a jit cache entry).
    """

    real_label: float

    def __call__(self, real_logits: Array, fake_logits: Array) -> Array:
        return bce_discriminator_loss(real_logits, fake_logits, self.real_label)


__all__ = ["LOSS_NAMES", "Array", "LossPair", "ScaledLoss", "bce_discriminator_loss",
           "class_cross_entropy", "get_loss_pair", "scaled",
           "hinge_discriminator_loss", "l1_reconstruction_loss",
           "least_squares_discriminator_loss",
           "least_squares_generator_loss", "minimax_generator_loss",
           "non_saturating_generator_loss", "relativistic_discriminator_loss",
           "relativistic_generator_loss", "wasserstein_critic_loss",
           "wasserstein_generator_loss"]
