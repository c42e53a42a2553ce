"""The pure, alternating GAN train step and its multi-step forms.

``make_train_step(recipe)`` returns ``train_step(state, batch) -> (state, metrics)``:

1. ``recipe.n_disc`` discriminator updates, run as a ``lax.scan`` so the body
   compiles once. Update ``i`` uses real batch ``batch[i]`` and fresh latent
   noise (a translation recipe's generator translates that batch's inputs
   instead); the generator's output is a constant for this update.
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
``fold_in(fold_in(k, 2), i)``, and the modules' own random streams (see
:data:`jaxgan.state.RNG_STREAMS`) of call ``c`` in update ``i`` from
``fold_in(fold_in(k, 3), 4 * i + c)`` (calls: generator, discriminator on real,
on fake, in the penalty; in the generator update, ``i = n_disc`` and the
calls are the generator, the discriminator on fake, and on real where the
generator's loss reads real logits). Re-running a
step therefore reproduces it exactly, and a resumed run continues the same
random stream.

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
from flax import traverse_util

from jaxgan import health, losses, penalties
from jaxgan.models.conditioning import CLASS_LOGITS
from jaxgan.models.layers import with_batch_norm_axis
from jaxgan.state import GANRecipe, GANState, module_rngs

PyTree = Any
Metrics = dict[str, jax.Array]
TrainStep = Callable[[GANState, PyTree], tuple[GANState, Metrics]]

_NOISE_STREAM = 0
_DATA_STREAM = 1
_PENALTY_STREAM = 2
_MODULE_STREAM = 3
_CLASS_STREAM = 4  # the class head's own discriminator calls (AC-GAN)
# Module calls per discriminator update that get keys of their own: the
# generator, the discriminator on real data, on fake data, and in the penalty.
_CALLS_PER_UPDATE = 4


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


class DataParallel:
    """The step's one data-parallel hook.

    Without an axis name (one device, or sharded ``jax.jit``, where XLA
    inserts the collectives) every method is the identity; under ``pmap``
    (or ``shard_map``) over ``axis_name`` they are the collectives and slices
    that make the data-parallel step compute the one-device step's function
    of the global batch. The step's math is written once, against this.
    """

    def __init__(self, axis_name: str | None = None):
        self.axis_name = axis_name

    @property
    def devices(self) -> int:
        """The size of the data-parallel axis (1 without one)."""
        return num_devices(self.axis_name)

    def rows(self, x: jax.Array, axis: int = 0) -> jax.Array:
        """This device's rows of a draw made for the global batch (:func:`local_rows`)."""
        return local_rows(x, self.axis_name, axis)

    def mean(self, tree: PyTree) -> PyTree:
        """The mean over devices (gradients, BatchNorm statistics, metrics)."""
        return tree if self.axis_name is None else jax.lax.pmean(tree, self.axis_name)

    def gather(self, x: jax.Array) -> jax.Array:
        """Every device's rows of ``x``, concatenated (the global batch's)."""
        if self.axis_name is None:
            return x
        return jax.lax.all_gather(x, self.axis_name, tiled=True)

    def max(self, x: jax.Array) -> jax.Array:
        """The NaN-keeping maximum over devices (see :func:`_nan_max`)."""
        return x if self.axis_name is None else _nan_pmax(x, self.axis_name)

    def device_key(self, key: jax.Array) -> jax.Array:
        """A key of this device's own, for draws made per device rather than
        for the global batch (the modules' own random streams)."""
        if self.axis_name is None:
            return key
        return jax.random.fold_in(key, jax.lax.axis_index(self.axis_name))

    def module(self, module):
        """``module`` with BatchNorm statistics taken over the axis, where it
        supports that (jaxgan's modules do); a user's module is left as it
        is, and its statistics are then per device, averaged after each update."""
        if self.axis_name is None:
            return module
        return with_batch_norm_axis(module, self.axis_name)


def apply_module(recipe, module, params: PyTree, batch_stats: PyTree,
                 rngs: dict[str, jax.Array], *inputs: jax.Array,
                 sown: str | None = None) -> tuple[jax.Array, PyTree]:
    """Applies ``module`` in train mode with random streams ``rngs``, under
    the compute-dtype policy of ``recipe`` (anything with ``compute_dtype``,
    ``in_compute_dtype`` and ``module_output``, as :class:`GANRecipe` and
    :class:`jaxgan.cyclegan.CycleGANRecipe` have); returns its output and
    its new BatchNorm statistics. (Streams a module does not draw from cost
    nothing: XLA drops the unused keys.) With ``sown``, the output is instead
    the last value the module (or a module inside it) sowed under that name
    in its ``intermediates``, such as a class head's logits."""
    variables = {"params": recipe.in_compute_dtype(params)}
    if batch_stats:
        variables["batch_stats"] = batch_stats
    mutable = ["batch_stats"] if sown is None else ["batch_stats", "intermediates"]
    out, mutated = module.apply(variables, *recipe.in_compute_dtype(inputs), train=True,
                                mutable=mutable, rngs=rngs)
    if sown is not None:
        out = _sown_value(mutated.get("intermediates", {}), sown, module)
    new_stats = mutated.get("batch_stats", batch_stats)
    if recipe.compute_dtype is not None:  # statistics keep their dtype (a carry of the scan)
        new_stats = jax.tree.map(lambda new, old: new.astype(old.dtype), new_stats, batch_stats)
    return recipe.module_output(out), new_stats


def _sown_value(intermediates: PyTree, name: str, module) -> jax.Array:
    """The last value sowed under ``name``, at any depth of ``intermediates``
    (a wrapper such as :class:`jaxgan.augment.DiffAugment` nests its module's)."""
    found = [sowed[-1] for path, sowed in traverse_util.flatten_dict(intermediates).items()
             if path[-1] == name]
    if len(found) != 1:
        raise ValueError(f"{type(module).__name__} sowed {len(found)} values named {name!r}; "
                         "a class loss needs a discriminator with one class head (e.g. "
                         "DCGANDiscriminator(class_head=True))")
    return found[0]


def _leading_dim(tree: PyTree) -> int:
    return jax.tree.leaves(tree)[0].shape[0]


def _per_example(logits: jax.Array) -> jax.Array:
    """One logit per example: a patch discriminator's map ``[B, ...]``
    averaged over its patches (``[B]`` logits pass unchanged)."""
    return logits.reshape(logits.shape[0], -1).mean(axis=1)


def _split_labels(recipe: GANRecipe, batch: PyTree) -> tuple[PyTree, jax.Array | None]:
    """``(images, labels)`` of a conditional recipe's batch, ``(targets,
    inputs)`` of a translation recipe's; ``(batch, None)`` otherwise."""
    if recipe.translation:
        if not (isinstance(batch, tuple | list) and len(batch) == 2):
            raise ValueError("the recipe translates images: pass batch=(inputs [n_disc, "
                             "batch_size, H, W, C_in], targets [n_disc, batch_size, H, W, C])")
        inputs, targets = batch
        if inputs.shape[:4] != targets.shape[:4]:
            raise ValueError(f"inputs have shape {inputs.shape}, the targets {targets.shape}; "
                             "they need the same [n_disc, batch_size, H, W]")
        return targets, inputs
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


def _check_batch(recipe: GANRecipe, batch: PyTree) -> None:
    """One-line errors for a batch of the wrong layout, naming the likely cause."""
    shape = jax.tree.leaves(batch)[0].shape
    if len(shape) > 2 and shape[0] != recipe.n_disc and shape[1] == recipe.n_disc:
        raise ValueError(
            f"batch has shape {shape}: one batch per step stacked over steps, it seems; "
            "run such inputs through make_multi_step(..., stacked=True), which gives each "
            "step its [n_disc, batch_size, ...] slice")
    if shape[0] != recipe.n_disc:
        raise ValueError(
            f"batch has leading dimension {shape[0]} but the recipe does {recipe.n_disc} "
            "discriminator update(s) per step; stack one real batch per update, shape "
            "[n_disc, batch_size, ...]")


def _moving_average(recipe: GANRecipe, state: GANState, g_params: PyTree,
                    g_stats: PyTree) -> PyTree:
    """The generator's moving average after this step's update (``None``
    without one): ``decay * ema + (1 - decay) * new``, a copy before
    ``recipe.ema_start`` (decay 0)."""
    if not recipe.ema_decay:
        return state.g_ema
    decay = jnp.where(state.step < recipe.ema_start, 0.0, recipe.ema_decay)
    return jax.tree.map(lambda average, new: decay * average + (1 - decay) * new,
                        state.g_ema, {"params": g_params, "batch_stats": g_stats})


def _step_metrics(recipe: GANRecipe, dp: DataParallel, d_metrics: Metrics, g_loss: jax.Array,
                  logs_norms: bool, g_grad_norm: jax.Array) -> Metrics:
    """The step's metrics from the ``n_disc`` updates' (stacked) and the
    generator's loss, averaged over devices (the maximum norm is a maximum)."""
    metrics = {
        "d_loss": d_metrics["d_loss"].mean(),
        "g_loss": g_loss,
        "d_penalty": d_metrics["d_penalty"].mean(),
        "d_real_logit": d_metrics["d_real_logit"][-1],
        "d_fake_logit": d_metrics["d_fake_logit"][-1],
        # The critic's estimate of the Wasserstein distance (for a WGAN
        # critic; the logit gap for others), over all n_disc updates.
        "d_wasserstein": jnp.mean(d_metrics["d_real_logit"] - d_metrics["d_fake_logit"]),
        # Training health (jaxgan.health): how well the discriminator separates
        # real from fake, how much the samples vary across z against the real
        # batch, and the size of the generator's (device-averaged) gradient.
        "d_auc": d_metrics["d_auc"].mean(),
        "g_grad_norm": g_grad_norm,
    }
    if "g_sample_spread" in d_metrics:
        metrics["g_sample_spread"] = d_metrics["g_sample_spread"].mean()
    if logs_norms:
        # Input-gradient norms where the penalty looks (interpolates for
        # WGAN-GP, real data for R1): WGAN-GP wants them near 1.
        metrics["d_grad_norm"] = d_metrics["d_grad_norm"].mean()
    if recipe.step_metrics is not None:
        metrics.update(jax.tree.map(jnp.mean, d_metrics["extra"]))
    for name in ("d_class_loss", "d_class_accuracy"):  # the class head's, on real images
        if name in d_metrics:
            metrics[name] = d_metrics[name].mean()
    if recipe.d_stats_update is not None:  # the state it steers, as the last update left it
        metrics.update(jax.tree.map(lambda value: value[-1], d_metrics["controlled"]))
    metrics = dp.mean(metrics)
    if logs_norms:
        metrics["d_grad_norm_max"] = dp.max(_nan_max(d_metrics["d_grad_norm_max"]))
    return metrics


def make_train_step(recipe: GANRecipe, axis_name: str | None = None) -> TrainStep:
    """Builds the pure train step for ``recipe``.

    Args:
      recipe: the GAN to train.
      axis_name: name of the data-parallel axis, or ``None``. When set, the
        step must run inside ``pmap`` (or ``shard_map`` with
        ``check_vma=False``) over that axis, with each
        device given its own rows of the global batch (see
        :func:`local_rows`); gradients, BatchNorm statistics and metrics are
        ``pmean``-ed across it (:class:`DataParallel`), and the result equals
        the step on one device with the whole batch (to float rounding).

    Returns:
      ``train_step(state, batch) -> (state, metrics)``. ``batch`` holds one
      real batch per discriminator update, stacked on a leading axis:
      shape ``[n_disc, batch_size, ...]``. For a conditional recipe it is the
      pair ``(images, labels)`` with labels ``[n_disc, batch_size]``; each
      discriminator update's fake images are generated for its real batch's
      labels (so real and fake have the same classes, and the gradient
      penalty's interpolates have one label), and the generator update uses
      the last update's labels, so generated classes follow the data's
      frequencies. For a translation recipe it is the pair ``(inputs,
      targets)``, each ``[n_disc, batch_size, H, W, C]``: the fakes of an
      update are the generator's outputs for its inputs, the discriminator
      sees every image beside its input, and the generator's loss adds
      ``reconstruction_weight`` times the reconstruction loss of its outputs
      against the last update's targets. ``metrics`` maps names to scalars:
      ``d_loss`` (the adversarial loss without the penalty, mean over the
      ``n_disc`` updates), ``d_penalty`` (the unweighted penalty, likewise), ``g_loss``,
      ``d_real_logit`` and ``d_fake_logit`` (mean logits in the last
      discriminator update), ``d_wasserstein`` (mean real minus fake logit over
      the updates: the critic's Wasserstein estimate), with a penalty
      ``d_grad_norm`` and ``d_grad_norm_max`` (the discriminator's input-gradient
      norm where the penalty is taken: mean, and max over the step), the
      health signals of :mod:`jaxgan.health` (``d_auc``, the share of
      real-fake pairs the discriminator ranks right, mean over the updates;
      ``g_sample_spread``, the fakes' spread across z over the real batch's,
      for array batches; ``g_grad_norm``, the generator gradient's global
      norm), and whatever ``recipe.step_metrics`` adds (mean over the updates) and
      what ``recipe.d_stats_update`` reports (as of the last update), and
      with a reconstruction weight ``g_reconstruction`` (the unweighted
      reconstruction loss; ``g_loss`` is the adversarial part alone), and with
      a class loss weight (AC-GAN) ``d_class_loss`` and ``d_class_accuracy``
      (the class head's cross-entropy and accuracy on the real batches, mean
      over the updates) and ``g_class_loss`` (its cross-entropy on the fakes
      for the classes they were drawn for), each unweighted. The class head's
      calls draw their module streams from ``fold_in(fold_in(k, 4), i)``
      (under ``pmap`` with each device's index folded in, as the other
      module streams are).
    """
    dp = DataParallel(axis_name)
    generator, discriminator = dp.module(recipe.generator), dp.module(recipe.discriminator)
    # A penalty that can report its gradient norms gets them logged.
    logs_norms = recipe.penalty is not None and penalties.reports_norm(recipe.penalty)

    def train_step(state: GANState, batch: PyTree) -> tuple[GANState, Metrics]:
        _check_batch(recipe, batch)
        images, labels = _split_labels(recipe, batch)
        key = step_key(state)
        noise_key = jax.random.fold_in(key, _NOISE_STREAM)
        penalty_key = jax.random.fold_in(key, _PENALTY_STREAM)
        module_key = dp.device_key(jax.random.fold_in(key, _MODULE_STREAM))

        def rngs(update_index, call):  # the modules' own streams for one call
            return module_rngs(jax.random.fold_in(
                module_key, update_index * _CALLS_PER_UPDATE + call))

        class_key = dp.device_key(jax.random.fold_in(key, _CLASS_STREAM))

        def class_loss(params, stats, update_index, images, labels):
            # AC-GAN's auxiliary loss, from a call of its own with blank class
            # weights: the class head then reads the image, never the class the
            # call was given (a concat discriminator sees it in its input).
            # Its statistics updates are dropped, as the penalty's are.
            blank = jnp.zeros((_leading_dim(images), recipe.num_classes), jnp.float32)
            logits, _ = apply_module(recipe, discriminator, params, stats,
                                     module_rngs(jax.random.fold_in(class_key, update_index)),
                                     images, blank, sown=CLASS_LOGITS)
            accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == labels)
            return losses.class_cross_entropy(logits, labels).mean(), accuracy

        def generator_inputs(update_index, num, condition):
            if recipe.translation:  # the inputs are the condition; no latents
                return recipe.generator_args(None, condition)
            # Drawn for the global batch; this device keeps its rows.
            z = dp.rows(recipe.sample_latent(jax.random.fold_in(noise_key, update_index),
                                             num * dp.devices))
            return recipe.generator_args(z, condition)

        def discriminator_update(carry, inputs):
            d_params, d_stats, d_opt_state, g_stats = carry
            update_index, real, real_labels = inputs
            cond = recipe.label_args(real_labels)  # fakes get the real batch's labels
            num = _leading_dim(real)
            fake, g_stats = apply_module(recipe, generator, state.g_params, g_stats,
                                   rngs(update_index, 0),
                                   *generator_inputs(update_index, num, real_labels))
            fake = jax.lax.stop_gradient(fake)

            def loss_fn(params):
                real_logits, stats = apply_module(recipe, discriminator, params, d_stats,
                                            rngs(update_index, 1), real, *cond)
                fake_logits, stats = apply_module(recipe, discriminator, params, stats,
                                            rngs(update_index, 2), fake, *cond)
                loss = recipe.d_loss(real_logits, fake_logits).mean()
                penalty, norms = jnp.zeros(()), None
                if recipe.penalty is not None:
                    # Statistics updates from the penalty's extra calls are dropped.
                    example_keys = dp.rows(jax.random.split(
                        jax.random.fold_in(penalty_key, update_index), num * dp.devices))
                    args = (lambda x: apply_module(recipe, discriminator, params, d_stats,
                                             rngs(update_index, 3), x, *cond)[0],
                            real, fake, example_keys)
                    if logs_norms:
                        penalty, norms = recipe.penalty(*args, with_norm=True)
                    else:
                        penalty = recipe.penalty(*args)
                    penalty = penalty.mean()
                total = loss + recipe.penalty_weight * penalty
                classified = None
                if recipe.class_loss_weight:  # the head learns the real images' classes
                    classified = class_loss(params, d_stats, update_index, real, real_labels)
                    total = total + recipe.class_loss_weight * classified[0]
                return total, (stats, loss, penalty, real_logits, fake_logits, norms,
                               classified)

            (_, (d_stats, loss, penalty, real_logits, fake_logits, norms, classified)), grads = (
                jax.value_and_grad(loss_fn, has_aux=True)(d_params))
            grads, d_stats, g_stats = dp.mean((grads, d_stats, g_stats))
            updates, d_opt_state = recipe.d_optimizer.update(grads, d_opt_state, d_params)
            d_params = optax.apply_updates(d_params, updates)
            metrics = {"d_loss": loss, "d_penalty": penalty,
                       "d_real_logit": real_logits.mean(), "d_fake_logit": fake_logits.mean(),
                       # Over the global batch, so that every placement logs the same.
                       "d_auc": health.ranking_accuracy(dp.gather(_per_example(real_logits)),
                                                        dp.gather(_per_example(fake_logits)))}
            if hasattr(real, "shape") and hasattr(fake, "shape"):  # not a user's pytree
                metrics["g_sample_spread"] = health.spread_ratio(real, fake, dp.mean)
            if recipe.d_stats_update is not None:
                d_stats, metrics["controlled"] = recipe.d_stats_update(d_stats, real_logits,
                                                                       dp.mean)
            if logs_norms:
                metrics["d_grad_norm"], metrics["d_grad_norm_max"] = norms.mean(), _nan_max(norms)
            if recipe.step_metrics is not None:
                metrics["extra"] = recipe.step_metrics(real, fake, real_logits, fake_logits)
            if classified is not None:
                metrics["d_class_loss"], metrics["d_class_accuracy"] = classified
            return (d_params, d_stats, d_opt_state, g_stats), metrics

        carry = (state.d_params, state.d_batch_stats, state.d_opt_state, state.g_batch_stats)
        (d_params, d_stats, d_opt_state, g_stats), d_metrics = jax.lax.scan(
            discriminator_update, carry, (jnp.arange(recipe.n_disc), images, labels))

        last_real = jax.tree.map(lambda x: x[-1], images)
        last_labels = None if labels is None else labels[-1]
        g_cond = recipe.label_args(last_labels)

        def generator_loss_fn(g_params):
            fake, new_g_stats = apply_module(
                recipe, generator, g_params, g_stats, rngs(recipe.n_disc, 0),
                *generator_inputs(recipe.n_disc, _leading_dim(last_real), last_labels))
            stats = d_stats
            if recipe.generator_loss_uses_real:  # a relativistic objective pairs real and fake
                real_logits, stats = apply_module(recipe, discriminator, d_params, stats,
                                            rngs(recipe.n_disc, 2), last_real, *g_cond)
            fake_logits, stats = apply_module(recipe, discriminator, d_params, stats,
                                        rngs(recipe.n_disc, 1), fake, *g_cond)
            loss = (recipe.g_loss(fake_logits, real_logits) if recipe.generator_loss_uses_real
                    else recipe.g_loss(fake_logits)).mean()
            reconstruction = jnp.zeros(())
            if recipe.reconstruction_weight:  # Pix2Pix's L1 term, against the paired targets
                reconstruction = recipe.reconstruction_loss(fake, last_real).mean()
            total = loss + recipe.reconstruction_weight * reconstruction
            classified = jnp.zeros(())
            if recipe.class_loss_weight:  # the fakes should read as the classes asked for
                classified, _ = class_loss(d_params, stats, recipe.n_disc, fake, last_labels)
                total = total + recipe.class_loss_weight * classified
            return total, (new_g_stats, stats, loss, reconstruction, classified)

        (_, (g_stats, d_stats, g_loss, g_reconstruction, g_class_loss)), g_grads = (
            jax.value_and_grad(generator_loss_fn, has_aux=True)(state.g_params))
        g_grads, g_stats, d_stats = dp.mean((g_grads, g_stats, d_stats))
        g_updates, g_opt_state = recipe.g_optimizer.update(g_grads, state.g_opt_state,
                                                           state.g_params)
        g_params = optax.apply_updates(state.g_params, g_updates)
        new_state = state.replace(
            step=state.step + 1,
            g_params=g_params,
            d_params=d_params,
            g_batch_stats=g_stats,
            d_batch_stats=d_stats,
            g_opt_state=g_opt_state,
            d_opt_state=d_opt_state,
            g_ema=_moving_average(recipe, state, g_params, g_stats),
        )
        metrics = _step_metrics(recipe, dp, d_metrics, g_loss, logs_norms,
                                optax.tree.norm(g_grads))
        if recipe.reconstruction_weight:
            metrics["g_reconstruction"] = dp.mean(g_reconstruction)
        if recipe.class_loss_weight:
            metrics["g_class_loss"] = dp.mean(g_class_loss)
        return new_state, metrics

    train_step.n_disc = recipe.n_disc  # lets make_sampling_step check its own n_disc
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

    expected = getattr(train_step, "n_disc", n_disc)
    if n_disc != expected:
        raise ValueError(f"make_sampling_step got n_disc={n_disc} but the train step's recipe "
                         f"does {expected} discriminator update(s) per step; pass "
                         f"n_disc=recipe.n_disc")

    dp = DataParallel(axis_name)

    def sampling_step(state: GANState, data: PyTree) -> tuple[GANState, Metrics]:
        key = jax.random.fold_in(step_key(state), _DATA_STREAM)
        per_update = batch_size // dp.devices if data_is_local else batch_size
        examples = sample_real(key, state.step, data, n_disc * per_update)
        batch = jax.tree.map(lambda x: x.reshape((n_disc, per_update, *x.shape[1:])), examples)
        if not data_is_local:
            batch = jax.tree.map(lambda x: dp.rows(x, axis=1), batch)
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


__all__ = ["DataParallel", "Metrics", "PyTree", "TrainStep", "apply_module", "local_rows",
           "make_multi_step", "make_sampling_step", "make_train_step", "num_devices", "step_key"]
