"""Discriminator regularisers that penalise its gradient with respect to its input.

Each penalty is a pure function
``penalty(discriminator_fn, real, fake, keys) -> per-example penalty``
(with ``with_norm=True``: ``(penalty, gradient norm)``, both per example, which
the train step logs), where
``discriminator_fn(x) -> logits [batch]`` is the discriminator with its
parameters bound (the train step binds them, so the penalty is differentiated
with respect to the parameters through the input gradient) and ``keys`` holds
one PRNG key per example, ``[batch, 2]``: the train step splits them for the
global batch, so that an example's random draw does not depend on how the
batch is spread over devices. Weights are applied by the caller
(``GANRecipe.penalty_weight``).

The gradient norm is taken per example over all non-batch axes, with
:data:`NORM_EPSILON` inside the square root: the derivative of ``sqrt`` at 0
is infinite, so without it a zero gradient (a dead ReLU region, a constant
critic) turns the update into NaN.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import jax
import jax.numpy as jnp

Array = jax.Array
DiscriminatorFn = Callable[[Array], Array]

NORM_EPSILON = 1e-12


def _input_gradients(discriminator_fn: DiscriminatorFn, x: Array) -> Array:
    # Each example's logit depends only on its own input (no BatchNorm across
    # the batch in a penalised critic), so the gradient of the sum is the
    # stack of per-example gradients.
    return jax.grad(lambda inputs: discriminator_fn(inputs).sum())(x)


def _squared_norm(gradients: Array) -> Array:
    return jnp.sum(gradients.reshape((gradients.shape[0], -1)) ** 2, axis=1)


def r1_penalty(discriminator_fn: DiscriminatorFn, real: Array, fake: Array,
               keys: Array, with_norm: bool = False) -> Array | tuple[Array, Array]:
    r"""The R1 penalty (Mescheder et al. 2018), per example.

    .. math:: R_1 = \tfrac12 \lVert \nabla_x D(x) \rVert^2, \quad x \sim p_{data}

    It pushes the discriminator's gradient to zero on real data, which makes
    GAN training locally convergent. ``fake`` and ``keys`` are unused.
    """
    del fake, keys
    squared = _squared_norm(_input_gradients(discriminator_fn, real))
    if with_norm:
        return 0.5 * squared, jnp.sqrt(squared + NORM_EPSILON)
    return 0.5 * squared


def r2_penalty(discriminator_fn: DiscriminatorFn, real: Array, fake: Array,
               keys: Array, with_norm: bool = False) -> Array | tuple[Array, Array]:
    r"""The R2 penalty, per example: R1's form taken on generated data.

    .. math:: R_2 = \tfrac12 \lVert \nabla_x D(x) \rVert^2, \quad x \sim p_G

    The train step hands the penalty fakes that carry no gradient to the
    generator, so R2 regularises the discriminator only. ``real`` and ``keys``
    are unused.
    """
    del real
    return r1_penalty(discriminator_fn, fake, None, keys, with_norm)


def r1_r2_penalty(discriminator_fn: DiscriminatorFn, real: Array, fake: Array,
                  keys: Array, with_norm: bool = False) -> Array | tuple[Array, Array]:
    r"""R1 plus R2 with one weight, per example (R3GAN, Huang et al. 2024).

    .. math:: \tfrac12 \lVert \nabla_x D(x) \rVert^2
              + \tfrac12 \lVert \nabla_y D(y) \rVert^2, \quad
              x \sim p_{data},\ y \sim p_G

    With the relativistic pairing loss (``jaxgan.losses``'s
    ``relativistic``) this is R3GAN's objective: penalising the
    discriminator's slope on both distributions is what their convergence
    argument needs, where R1 alone leaves the fakes' side free. With
    ``with_norm`` the norm reported is the gradient's over both inputs,
    :math:`\sqrt{\lVert \nabla_x \rVert^2 + \lVert \nabla_y \rVert^2}`.
    """
    del keys
    squared = (_squared_norm(_input_gradients(discriminator_fn, real))
               + _squared_norm(_input_gradients(discriminator_fn, fake)))
    if with_norm:
        return 0.5 * squared, jnp.sqrt(squared + NORM_EPSILON)
    return 0.5 * squared


def gradient_penalty(discriminator_fn: DiscriminatorFn, real: Array, fake: Array,
                     keys: Array, with_norm: bool = False) -> Array | tuple[Array, Array]:
    r"""The WGAN-GP gradient penalty (Gulrajani et al. 2017), per example.

    .. math::
        GP = (\lVert \nabla_{\hat x} D(\hat x) \rVert - 1)^2, \quad
        \hat x = \epsilon x + (1 - \epsilon) G(z), \quad \epsilon \sim U[0, 1]

    with one :math:`\epsilon` per example, drawn from that example's key.
    """
    eps_shape = (real.shape[0],) + (1,) * (real.ndim - 1)
    eps = jax.vmap(lambda key: jax.random.uniform(key, (), real.dtype))(keys).reshape(eps_shape)
    interpolates = eps * real + (1.0 - eps) * fake
    norm = jnp.sqrt(_squared_norm(_input_gradients(discriminator_fn, interpolates))
                    + NORM_EPSILON)
    return ((norm - 1.0) ** 2, norm) if with_norm else (norm - 1.0) ** 2


PENALTIES = {"r1": r1_penalty, "r2": r2_penalty, "r1_r2": r1_r2_penalty,
             "gradient_penalty": gradient_penalty}


def reports_norm(penalty: Callable[..., Array]) -> bool:
    """Whether ``penalty`` takes ``with_norm`` (the built-in ones do; a user's may not)."""
    try:
        return "with_norm" in inspect.signature(penalty).parameters
    except (TypeError, ValueError):  # builtins and some wrappers have no signature
        return False


__all__ = ["NORM_EPSILON", "PENALTIES", "Array", "DiscriminatorFn", "gradient_penalty",
           "r1_penalty", "r1_r2_penalty", "r2_penalty", "reports_norm"]
