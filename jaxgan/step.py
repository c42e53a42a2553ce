"""The pure, alternating GAN train step and its multi-step forms.

``make_train_step(recipe)`` returns ``train_step(state, batch) -> (state, metrics)``:

1. ``recipe.n_disc`` discriminator updates, run as a ``lax.scan`` so the body
   compiles once. Update ``i`` uses real batch ``batch[i]`` and fresh latent
   noise; the generator's output is a constant for this update.
2. One generator update that differentiates through the discriminator *as just
   updated* but changes only the generator's parameters.
3. With ``recipe.ema_decay > 0``, the generator's moving average takes in the
   updated parameters and BatchNorm statistics:
   ``ema <- decay * ema + (1 - decay) * new`` (a copy before ``recipe.ema_start``).

BatchNorm statistics of both networks are threaded through every call, in call
order (discriminator on real, then on fake), as PyTorch's train mode does.

Randomness is a pure function of the state: with ``k = fold_in(state.key,
state.step)``, the latent noise of discriminator update ``i`` is drawn from
``fold_in(fold_in(k, 0), i)``, the generator update's from
``fold_in(fold_in(k, 0), n_disc)``, data sampled on the device from
``fold_in(k, 1)``, and the penalty of update ``i`` (e.g. WGAN-GP's
interpolation weights) from one key per example, split from
``fold_in(fold_in(k, 2), i)``. Re-running a step therefore reproduces it
exactly, and a resumed run continues the same random stream.

The step works unchanged under ``jax.jit`` (donate the state; shard the batch
with ``NamedSharding`` for data parallelism, see :mod:`jaxgan.parallel`),
``jax.vmap`` over stacked states (many seeds in one program), ``jax.lax.scan``
(see :func:`make_multi_step`) and, with ``axis_name``, under ``jax.pmap`` (or
``shard_map`` with ``check_vma=False``, which is how pmap runs: with the
default check, autodiff already sums the replicated parameters' gradients
over devices and the step's mean would not undo it). There every random draw
is made for the whole global batch and each device keeps its own rows,
BatchNorm takes its statistics over the global batch, and gradients and
metrics are averaged over the axis: a data-parallel step computes the same
function of the global batch as a step on one device.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxgan import penalties
from jaxgan.state import GANRecipe, GANState

PyTree = Any
Metrics = dict[str, jax.Array]
TrainStep = Callable[[GANState, PyTree], tuple[GANState, Metrics]]

_NOISE_STREAM = 0
_DATA_STREAM = 1
_PENALTY_STREAM = 2


def step_key(state: GANState) -> jax.Array:
    """The key for the current step: ``fold_in(state.key, state.step)``.

    Every device of a data-parallel step uses the same key; they differ by
    which rows of each draw they keep (see :func:`local_rows`).
    """
    return jax.random.fold_in(state.key, state.step)


def num_devices(axis_name: str | None) -> int:
    """The size of the data-parallel axis (1 without one)."""
    return 1 if axis_name is None else jax.lax.axis_size(axis_name)


def local_rows(x: jax.Array, axis_name: str | None, axis: int = 0) -> jax.Array:
    """This device's contiguous share of ``x`` along ``axis``: rows
    ``[d * n, (d + 1) * n)`` on device ``d`` of ``axis_name`` (all of ``x``
    without an axis). Device ``d`` of a pmapped step thus sees the rows that
    device ``d`` holds when the global batch is sharded for ``jax.jit``."""
    if axis_name is None:
        return x
    size = x.shape[axis] // num_devices(axis_name)
    return jax.lax.dynamic_slice_in_dim(x, jax.lax.axis_index(axis_name) * size, size, axis)


def _nan_max(x: jax.Array) -> jax.Array:
    """``max(x)``, NaN if any element is: a max reduced across devices
    (sharded jit, ``pmax``) may drop NaN, where one device keeps it."""
    return jnp.where(jnp.any(jnp.isnan(x)), jnp.nan, jnp.max(x))


def _nan_pmax(x: jax.Array, axis_name: str) -> jax.Array:
    """:func:`_nan_max` across the devices of ``axis_name``."""
    any_nan = jax.lax.pmax(jnp.isnan(x).astype(jnp.int32), axis_name) > 0
    return jnp.where(any_nan, jnp.nan, jax.lax.pmax(x, axis_name))


def _sync_batch_norm(module, axis_name: str | None):
    """``module`` with BatchNorm statistics taken over ``axis_name``, where it
    supports that (jaxgan's modules do); a user's module is left as it is, and
    its statistics are then per device, averaged after each update."""
    if axis_name is not None and hasattr(module, "batch_norm_axis_name"):
        return module.clone(batch_norm_axis_name=axis_name)
    return module


def _apply(module, params: PyTree, batch_stats: PyTree,
           *inputs: jax.Array) -> tuple[jax.Array, PyTree]:
    """Applies ``module`` in train mode; returns its output and new statistics."""
    variables = {"params": params}
    if batch_stats:
        variables["batch_stats"] = batch_stats
    out, mutated = module.apply(variables, *inputs, train=True, mutable=["batch_stats"])
    return out, mutated.get("batch_stats", batch_stats)


def _leading_dim(tree: PyTree) -> int:
    return jax.tree.leaves(tree)[0].shape[0]


def _split_labels(recipe: GANRecipe, batch: PyTree) -> tuple[PyTree, jax.Array | None]:
    """``(images, labels)`` of a conditional recipe's batch; ``(batch, None)`` otherwise."""
    if not recipe.conditional:
        return batch, None
    if not (isinstance(batch, tuple | list) and len(batch) == 2):
        raise ValueError(f"the recipe is conditional ({recipe.num_classes} classes): pass "
                         "batch=(images [n_disc, batch_size, ...], labels [n_disc, batch_size])")
    images, labels = batch
    if labels.shape != jax.tree.leaves(images)[0].shape[:2]:
        raise ValueError(f"labels have shape {labels.shape}, the images "
                         f"{jax.tree.leaves(images)[0].shape}; they need [n_disc, batch_size]")
    return images, labels


def make_train_step(recipe: GANRecipe, axis_name: str | None = None) -> TrainStep:
    """Builds the pure train step for ``recipe``.

    Args:
      recipe: the GAN to train.
      axis_name: name of the data-parallel axis, or ``None``. When set, the
        step must run inside ``pmap`` (or ``shard_map`` with
        ``check_vma=False``) over that axis, with each
        device given its own rows of the global batch (see
        :func:`local_rows`); gradients, BatchNorm statistics and metrics are
        ``pmean``-ed across it, and the result equals the step on one device
        with the whole batch (to float rounding).

    Returns:
      ``train_step(state, batch) -> (state, metrics)``. ``batch`` holds one
      real batch per discriminator update, stacked on a leading axis:
      shape ``[n_disc, batch_size, ...]``. For a conditional recipe it is the
      pair ``(images, labels)`` with labels ``[n_disc, batch_size]``; each
      discriminator update's fake images are generated for its real batch's
      labels (so real and fake have the same classes, and the gradient
      penalty's interpolates have one label), and the generator update uses
      the last update's labels, so generated classes follow the data's
      frequencies. ``metrics`` maps names to scalars:
      ``d_loss`` (the adversarial loss without the penalty, mean over the
      ``n_disc`` updates), ``d_penalty`` (the unweighted penalty, likewise), ``g_loss``,
      ``d_real_logit`` and ``d_fake_logit`` (mean logits in the last
      discriminator update), ``d_wasserstein`` (mean real minus fake logit over
      the updates: the critic's Wasserstein estimate) and, with a penalty,
      ``d_grad_norm`` and ``d_grad_norm_max`` (the discriminator's input-gradient
      norm where the penalty is taken: mean, and max over the step).
    """
    generator = _sync_batch_norm(recipe.generator, axis_name)
    discriminator = _sync_batch_norm(recipe.discriminator, axis_name)

    def pmean(tree):
        return tree if axis_name is None else jax.lax.pmean(tree, axis_name)

    # A penalty that can report its gradient norms gets them logged.
    logs_norms = recipe.penalty is not None and penalties.reports_norm(recipe.penalty)

    def train_step(state: GANState, batch: PyTree) -> tuple[GANState, Metrics]:
        if _leading_dim(batch) != recipe.n_disc:
            raise ValueError(
                f"batch has leading dimension {_leading_dim(batch)} but the recipe does "
                f"{recipe.n_disc} discriminator update(s) per step; stack one real batch per "
                "update, shape [n_disc, batch_size, ...]")
        images, labels = _split_labels(recipe, batch)
        key = step_key(state)
        devices = num_devices(axis_name)
        noise_key = jax.random.fold_in(key, _NOISE_STREAM)
        penalty_key = jax.random.fold_in(key, _PENALTY_STREAM)

        def latents(update_index, num):
            # Drawn for the global batch; this device keeps its rows.
            z = recipe.sample_latent(jax.random.fold_in(noise_key, update_index), num * devices)
            return local_rows(z, axis_name)

        def generate(g_stats, update_index, num, cond):
            z = latents(update_index, num)
            return _apply(generator, state.g_params, g_stats, z, *cond)

        def discriminator_update(carry, inputs):
            d_params, d_stats, d_opt_state, g_stats = carry
            update_index, real, real_labels = inputs
            cond = recipe.label_args(real_labels)  # fakes get the real batch's labels
            fake, g_stats = generate(g_stats, update_index, _leading_dim(real), cond)
            fake = jax.lax.stop_gradient(fake)

            def loss_fn(params):
                real_logits, stats = _apply(discriminator, params, d_stats, real, *cond)
                fake_logits, stats = _apply(discriminator, params, stats, fake, *cond)
                loss = recipe.d_loss(real_logits, fake_logits).mean()
                penalty, norms = jnp.zeros(()), None
                if recipe.penalty is not None:
                    # Statistics updates from the penalty's extra calls are dropped.
                    example_keys = local_rows(jax.random.split(
                        jax.random.fold_in(penalty_key, update_index),
                        _leading_dim(real) * devices), axis_name)
                    args = (lambda x: _apply(discriminator, params, d_stats, x, *cond)[0],
                            real, fake, example_keys)
                    if logs_norms:
                        penalty, norms = recipe.penalty(*args, with_norm=True)
                    else:
                        penalty = recipe.penalty(*args)
                    penalty = penalty.mean()
                return loss + recipe.penalty_weight * penalty, (
                    stats, loss, penalty, real_logits.mean(), fake_logits.mean(), norms)

            (_, (d_stats, loss, penalty, real_logit, fake_logit, norms)), grads = (
                jax.value_and_grad(loss_fn, has_aux=True)(d_params))
            grads, d_stats, g_stats = pmean((grads, d_stats, g_stats))
            updates, d_opt_state = recipe.d_optimizer.update(grads, d_opt_state, d_params)
            d_params = optax.apply_updates(d_params, updates)
            metrics = {"d_loss": loss, "d_penalty": penalty, "d_real_logit": real_logit,
                       "d_fake_logit": fake_logit}
            if logs_norms:
                metrics["d_grad_norm"], metrics["d_grad_norm_max"] = norms.mean(), _nan_max(norms)
            return (d_params, d_stats, d_opt_state, g_stats), metrics

        carry = (state.d_params, state.d_batch_stats, state.d_opt_state, state.g_batch_stats)
        (d_params, d_stats, d_opt_state, g_stats), d_metrics = jax.lax.scan(
            discriminator_update, carry, (jnp.arange(recipe.n_disc), images, labels))

        num_fake = jax.tree.leaves(images)[0].shape[1]  # the real batch size
        g_cond = recipe.label_args(None if labels is None else labels[-1])

        def generator_loss_fn(g_params):
            z = latents(recipe.n_disc, num_fake)
            fake, new_g_stats = _apply(generator, g_params, g_stats, z, *g_cond)
            fake_logits, new_d_stats = _apply(discriminator, d_params, d_stats, fake, *g_cond)
            loss = recipe.g_loss(fake_logits).mean()
            return loss, (new_g_stats, new_d_stats)

        (g_loss, (g_stats, d_stats)), g_grads = jax.value_and_grad(
            generator_loss_fn, has_aux=True)(state.g_params)
        g_grads, g_stats, d_stats = pmean((g_grads, g_stats, d_stats))
        g_updates, g_opt_state = recipe.g_optimizer.update(g_grads, state.g_opt_state,
                                                           state.g_params)
        g_params = optax.apply_updates(state.g_params, g_updates)
        g_ema = state.g_ema
        if recipe.ema_decay:
            # Before ema_start the average is the generator itself (decay 0).
            decay = jnp.where(state.step < recipe.ema_start, 0.0, recipe.ema_decay)
            g_ema = jax.tree.map(lambda average, new: decay * average + (1 - decay) * new,
                                 g_ema, {"params": g_params, "batch_stats": g_stats})

        metrics = {
            "d_loss": d_metrics["d_loss"].mean(),
            "g_loss": g_loss,
            "d_penalty": d_metrics["d_penalty"].mean(),
            "d_real_logit": d_metrics["d_real_logit"][-1],
            "d_fake_logit": d_metrics["d_fake_logit"][-1],
            # The critic's estimate of the Wasserstein distance (for a WGAN
            # critic; the logit gap for others), over all n_disc updates.
            "d_wasserstein": jnp.mean(d_metrics["d_real_logit"] - d_metrics["d_fake_logit"]),
        }
        if logs_norms:
            # Input-gradient norms where the penalty looks (interpolates for
            # WGAN-GP, real data for R1): WGAN-GP wants them near 1.
            metrics["d_grad_norm"] = d_metrics["d_grad_norm"].mean()
            metrics["d_grad_norm_max"] = _nan_max(d_metrics["d_grad_norm_max"])
        new_state = state.replace(
            step=state.step + 1,
            g_params=g_params,
            d_params=d_params,
            g_batch_stats=g_stats,
            d_batch_stats=d_stats,
            g_opt_state=g_opt_state,
            d_opt_state=d_opt_state,
            g_ema=g_ema,
        )
        if axis_name is not None:  # means over devices; the max norm is a max
            metrics = {name: (_nan_pmax if name == "d_grad_norm_max" else jax.lax.pmean)(
                value, axis_name) for name, value in metrics.items()}
        return new_state, metrics

    return train_step


def make_sampling_step(
    train_step: TrainStep,
    sample_real: Callable[[jax.Array, jax.Array, PyTree, int], PyTree],
    batch_size: int,
    n_disc: int,
    axis_name: str | None = None,
    batch_sharding: jax.sharding.Sharding | None = None,
    data_is_local: bool = False,
) -> Callable[[GANState, PyTree], tuple[GANState, Metrics]]:
    """Wraps ``train_step`` so that it draws its real batches on the device.

    Args:
      train_step: from :func:`make_train_step`.
      sample_real: ``(key, step, data, num) -> examples [num, ...]``, a pure
        sampler such as :meth:`jaxgan.data.Mixture.sample_real`; for a
        conditional recipe ``-> (examples, labels [num])``, such as
        :meth:`jaxgan.data.ArraySource.sample_labelled`.
      batch_size: real examples per discriminator update over all devices
        (the global batch).
      n_disc: discriminator updates per step (the recipe's).
      axis_name: as in :func:`make_train_step`. The sampler draws the global
        batch and each device keeps its rows, so the examples a step reads do
        not depend on the number of devices.
      batch_sharding: under ``jax.jit`` with sharded data parallelism, the
        sharding of the drawn batch ``[n_disc, batch_size, ...]`` (its batch
        axis on the mesh's data axis; see :func:`jaxgan.parallel.batch_sharding`),
        so that each device computes on its own rows.
      data_is_local: ``data`` already holds only this device's examples
        (host-streamed batches split per device); the sampler then reads
        ``batch_size / devices`` examples per update.

    Returns:
      ``step(state, data) -> (state, metrics)``, where ``data`` is whatever
      device-resident arrays the sampler needs (``None`` for procedural data
      such as Gaussian mixtures). Its key is ``fold_in(step_key, 1)``.
    """

    def sampling_step(state: GANState, data: PyTree) -> tuple[GANState, Metrics]:
        key = jax.random.fold_in(step_key(state), _DATA_STREAM)
        per_update = batch_size // num_devices(axis_name) if data_is_local else batch_size
        examples = sample_real(key, state.step, data, n_disc * per_update)
        batch = jax.tree.map(lambda x: x.reshape((n_disc, per_update, *x.shape[1:])), examples)
        if not data_is_local:
            batch = jax.tree.map(lambda x: local_rows(x, axis_name, axis=1), batch)
        if batch_sharding is not None:
            batch = jax.lax.with_sharding_constraint(batch, batch_sharding)
        return train_step(state, batch)

    return sampling_step


def make_multi_step(
    step: Callable[[GANState, PyTree], tuple[GANState, Metrics]],
    num_steps: int,
    stacked: bool = False,
) -> Callable[[GANState, PyTree], tuple[GANState, Metrics]]:
    """Runs ``num_steps`` steps in one call with ``lax.scan``.

    Args:
      step: a train step (plain or sampling).
      num_steps: steps per call.
      stacked: if true, the second argument holds one input per step stacked
        on a leading axis of size ``num_steps`` (e.g. batches streamed from the
        host); if false, every step gets the same second argument (e.g. a
        device-resident dataset, or ``None``).

    Returns:
      ``multi_step(state, inputs) -> (state, metrics)`` with each metric
      stacked over the steps, shape ``[num_steps]``.
    """
    if num_steps < 1:
        raise ValueError(f"num_steps must be at least 1, got {num_steps}")

    def multi_step(state: GANState, inputs: PyTree) -> tuple[GANState, Metrics]:
        if stacked:
            return jax.lax.scan(step, state, inputs, length=num_steps)
        return jax.lax.scan(lambda s, _: step(s, inputs), state, None, length=num_steps)

    return multi_step
