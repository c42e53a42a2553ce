"""The GAN recipe (what to train) and the state pytree (where training is).

A :class:`GANRecipe` is a static bundle: the two modules, their losses, their
optimizers, the latent sampler and the number of discriminator updates per
generator update. It holds callables only and never changes during training.

A :class:`GANState` holds arrays only: everything a run needs to continue bit
for bit. Keeping the callables out of the state (in the recipe, which the step
closes over) keeps the state a plain pytree of arrays, which is what orbax
saves, what ``pmap`` and sharding distribute, and what ``vmap`` batches over
seeds, with no template of functions needed to restore it.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
import re
from collections.abc import Callable, Sequence
from typing import Any

import flax.errors
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxgan import losses

PyTree = Any

# The random streams a module may draw from (``self.make_rng(name)``, e.g.
# ``nn.Dropout``'s "dropout"). The train step gives every module call its own
# key for each, derived from the state's key and step (see jaxgan.step), so a
# run stays a pure function of its key. In inference (``train=False``) modules
# get none and must be deterministic, except a translation generator asked for
# its noise (``noise=True``, with a ``dropout`` key: see noise_args).
RNG_STREAMS = ("dropout", "noise", "augment")


class ModuleContractError(ValueError):
    """A generator or discriminator that breaks the module contract (see
    :func:`check_modules`); the message names the fix."""


def module_rngs(key: jax.Array) -> dict[str, jax.Array]:
    """One key per stream of :data:`RNG_STREAMS`, derived from ``key``."""
    return {name: jax.random.fold_in(key, i) for i, name in enumerate(RNG_STREAMS)}


def default_optimizer(learning_rate: float = 2e-4, b1: float = 0.5,
                      b2: float = 0.999) -> optax.GradientTransformation:
    """Adam with the DCGAN paper's settings (Radford et al. 2016)."""
    return optax.adam(learning_rate, b1=b1, b2=b2)


class ComputePolicy:
    """The mixed-precision policy of a recipe with a ``compute_dtype`` field
    (``None``, or a floating-point dtype such as ``jnp.bfloat16``; see
    :class:`GANRecipe`): what every module call gets and gives back. Shared by
    :class:`GANRecipe` and :class:`jaxgan.cyclegan.CycleGANRecipe`."""

    def check_compute_dtype(self) -> None:
        """Raises ``ValueError`` unless ``compute_dtype`` is ``None`` or a float dtype."""
        if self.compute_dtype is not None:
            try:
                dtype = jnp.dtype(self.compute_dtype)
            except TypeError:
                dtype = None
            if dtype is None or not jnp.issubdtype(dtype, jnp.floating):
                raise ValueError(f"compute_dtype must be None or a floating-point dtype such "
                                 f"as jnp.bfloat16, got {self.compute_dtype!r}")

    def in_compute_dtype(self, tree: PyTree) -> PyTree:
        """``tree`` with its floating-point leaves cast to ``compute_dtype``
        (unchanged without one): what a module call gets under the policy."""
        if self.compute_dtype is None:
            return tree
        return jax.tree.map(lambda x: x.astype(self.compute_dtype)
                            if jnp.issubdtype(jnp.result_type(x), jnp.floating) else x, tree)

    def module_output(self, x: jax.Array) -> jax.Array:
        """A module's output as the policy hands it on: float32 under a
        ``compute_dtype``, unchanged without one."""
        return x if self.compute_dtype is None else x.astype(jnp.float32)

    def dtype_name(self) -> str | None:
        """``compute_dtype`` as a checkpoint records it."""
        return None if self.compute_dtype is None else jnp.dtype(self.compute_dtype).name


def function_name(fn) -> str | None:
    """How a recipe's description names a loss or penalty: its qualified
    name, with a ``functools.partial``'s arguments and a
    :class:`jaxgan.losses.ScaledLoss`'s weight (both part of the objective)."""
    if fn is None:
        return None
    if isinstance(fn, losses.ScaledLoss):
        return f"ScaledLoss({function_name(fn.loss)}, {fn.weight})"
    inner = getattr(fn, "func", fn)
    keywords = getattr(fn, "keywords", None)
    base = getattr(inner, "__qualname__", type(inner).__name__)
    return f"{base}({keywords})" if keywords else base


@dataclasses.dataclass(frozen=True)
class GANRecipe(ComputePolicy):
    """A static description of a GAN and how to train it.

    Attributes:
      generator: flax module called as ``generator(z, train=...)``.
      discriminator: flax module called as ``discriminator(x, train=...)``,
        returning logits of shape ``[batch]``.
      latent_dim: size of the latent vector z.
      d_loss: ``(real_logits, fake_logits) -> per-example loss`` (see
        :mod:`jaxgan.losses`).
      g_loss: ``fake_logits -> per-example loss``.
      g_optimizer: the generator's optax transformation.
      d_optimizer: the discriminator's optax transformation.
      n_disc: discriminator updates per generator update.
      latent_sampler: ``(key, shape) -> z``; standard normal by default.
      penalty: an input-gradient penalty on the discriminator, such as
        :func:`jaxgan.penalties.r1_penalty`, or ``None``.
      penalty_weight: its weight in the discriminator's loss.
      num_classes: 0 for an unconditional GAN. Otherwise both modules are
        class-conditional, called as ``generator(z, labels, train=...)`` and
        ``discriminator(x, labels, train=...)``, and the train step takes
        ``(images, labels)`` batches (see :func:`jaxgan.step.make_train_step`).
      label_frequencies: empty for a GAN whose labels are classes a user asks
        for. A self-conditioned GAN (:mod:`jaxgan.data.clusters`) is
        conditioned on clusters of its own data and is unconditional to its
        users: these are the clusters' shares of the data (``num_classes``
        floats summing to 1), the prior that evaluation draws its labels from
        (:func:`jaxgan.evaluation.eval_labels`), and its samples are scored as
        an unconditional GAN's.
      ema_decay: 0 for none; otherwise the state keeps an exponential moving
        average of the generator (``GANState.g_ema``) with this decay per
        step, and :func:`generate` draws from it.
      ema_start: steps before which the average just copies the generator
        (its early, fast-changing weights would otherwise linger in it).
      g_loss_uses_real: the generator's loss is called as
        ``g_loss(fake_logits, real_logits)``, with the discriminator's logits
        on the last update's real batch too: what a relativistic objective
        such as :func:`jaxgan.losses.relativistic_generator_loss` needs.
        ``None`` (the default) reads the loss's ``uses_real_logits``
        attribute (false where it has none).
      step_metrics: ``(real, fake, real_logits, fake_logits) -> {name:
        scalar}``, computed in every discriminator update (inside the jitted
        step) and logged beside the step's own metrics, averaged over the
        updates and devices: room for health signals such as the fakes'
        diversity. ``None`` for none.
      d_stats_update: ``(d_batch_stats, real_logits, mean) -> (d_batch_stats,
        {name: scalar})``, run inside the step after every discriminator
        update, with that update's real logits (this device's rows) and
        ``mean``, which averages an array over the data-parallel devices
        (the identity on one): a controller that steers state of the
        discriminator's own, such as ADA's augmentation probability
        (:class:`jaxgan.augment.AdaptiveProbability`). Its metrics are logged
        as of the step's last discriminator update. ``None`` for none.
      compute_dtype: the mixed-precision policy. ``None`` (the default): the
        modules compute in their own dtypes. A dtype such as
        ``jnp.bfloat16``: every module call, in the step and when sampling,
        gets its parameters and its floating-point inputs cast to it, and
        its output cast back to float32; the parameters, optimizer states,
        BatchNorm statistics, moving average, losses, penalty and metrics stay
        float32 (bfloat16 keeps float32's range, so no loss scaling is
        needed). Layers whose output dtype is promoted from float32 state
        (flax's normalisation layers, which keep float32 statistics) need
        their own ``dtype`` set to the same to stay in it: jaxgan's modules
        take a ``dtype`` attribute for that.
      translation: an image-to-image recipe (Pix2Pix): the generator maps an
        input image to an output, called as ``generator(inputs, train=...)``
        with no latent vector (its noise, if any, from the ``dropout``
        stream), and the discriminator judges an image beside its input,
        ``discriminator(x, inputs, train=...)``; it may return a map of patch
        logits ``[batch, ...]`` (PatchGAN), the losses acting on every patch.
        Batches are pairs ``(inputs, targets)``, each ``[n_disc, batch_size,
        H, W, C]``; the fakes of an update are the generator's outputs for
        its real batch's inputs. ``latent_dim`` is unused (0 is allowed) and
        ``num_classes`` must be 0. Outputs come from :meth:`translate`.
      input_channels: channels of a translation recipe's inputs; 0: as many as
        the targets have.
      reconstruction_loss: ``(outputs, targets) -> per-example loss``, added to
        a translation generator's loss with ``reconstruction_weight``;
        :func:`jaxgan.losses.l1_reconstruction_loss` by default.
      reconstruction_weight: its weight; 0 (the default) for none, when the
        generator learns from the discriminator alone. Pix2Pix's lambda is 100:
        set it.
      class_loss_weight: 0 (the default), or for a conditional recipe whose
        discriminator has a class head (AC-GAN; see
        :class:`jaxgan.models.dcgan.DCGANDiscriminator`'s ``class_head``)
        the weight of the auxiliary class loss: the discriminator adds it
        times the cross-entropy of its head on the real batch's labels, and
        the generator the same on its fakes and the classes they were drawn
        for (:func:`jaxgan.losses.class_cross_entropy`). The head classifies
        each image in a discriminator call of its own, with blank class
        weights, so that it reads the image and not the class it was given.
    """

    generator: nn.Module
    discriminator: nn.Module
    latent_dim: int
    d_loss: Callable[[jax.Array, jax.Array], jax.Array] = losses.bce_discriminator_loss
    g_loss: Callable[[jax.Array], jax.Array] = losses.non_saturating_generator_loss
    g_optimizer: optax.GradientTransformation = dataclasses.field(
        default_factory=default_optimizer)
    d_optimizer: optax.GradientTransformation = dataclasses.field(
        default_factory=default_optimizer)
    n_disc: int = 1
    latent_sampler: Callable[[jax.Array, Sequence[int]], jax.Array] = jax.random.normal
    penalty: Callable[..., jax.Array] | None = None
    penalty_weight: float = 1.0
    num_classes: int = 0
    label_frequencies: tuple[float, ...] = ()
    ema_decay: float = 0.0
    ema_start: int = 0
    g_loss_uses_real: bool | None = None
    step_metrics: Callable[..., dict[str, jax.Array]] | None = None
    d_stats_update: Callable[..., tuple[PyTree, dict[str, jax.Array]]] | None = None
    compute_dtype: Any = None
    translation: bool = False
    input_channels: int = 0
    reconstruction_loss: Callable[[jax.Array, jax.Array], jax.Array] = (
        losses.l1_reconstruction_loss)
    reconstruction_weight: float = 0.0
    class_loss_weight: float = 0.0

    def __post_init__(self):
        def integer(value):
            return isinstance(value, numbers.Integral) and not isinstance(value, bool)

        for name, least in (("n_disc", 1), ("latent_dim", 0 if self.translation else 1),
                            ("num_classes", 0), ("ema_start", 0), ("input_channels", 0)):
            value = getattr(self, name)
            if not integer(value) or value < least:
                raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
        for name in ("penalty_weight", "reconstruction_weight", "class_loss_weight"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Real) or not value >= 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
            if not math.isfinite(value):  # an infinite weight makes every loss inf or nan
                raise ValueError(f"{name} must be finite, got {value!r}")
        if self.translation and self.num_classes:
            raise ValueError("a translation recipe takes images as its condition, not classes; "
                             "set num_classes=0 (labels of paired data go to the metrics only)")
        if self.class_loss_weight and not self.num_classes:
            raise ValueError(f"class_loss_weight={self.class_loss_weight!r} trains the "
                             "discriminator's class head on the labels, and the recipe is "
                             "unconditional (num_classes=0); set num_classes or leave it 0")
        if not self.translation and (self.input_channels or self.reconstruction_weight):
            raise ValueError("input_channels and reconstruction_weight belong to translation "
                             "recipes; set translation=True or leave them 0")
        if self.label_frequencies and (
                len(self.label_frequencies) != self.num_classes
                or min(self.label_frequencies) < 0
                or abs(sum(self.label_frequencies) - 1) > 1e-6):
            raise ValueError(f"label_frequencies must be num_classes={self.num_classes} shares "
                             f"summing to 1 (or empty), got {len(self.label_frequencies)} "
                             f"summing to {sum(self.label_frequencies):.6g}")
        if not isinstance(self.ema_decay, numbers.Real) or not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must be in [0, 1) (0: no moving average), got "
                             f"{self.ema_decay!r}")
        self.check_compute_dtype()

    @property
    def generator_loss_uses_real(self) -> bool:
        """Whether ``g_loss`` is called as ``g_loss(fake_logits, real_logits)``:
        ``g_loss_uses_real`` where set, else the loss's ``uses_real_logits``."""
        if self.g_loss_uses_real is not None:
            return self.g_loss_uses_real
        return bool(getattr(self.g_loss, "uses_real_logits", False))

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    @property
    def self_conditioned(self) -> bool:
        """Conditioned on clusters of its data, not on classes a user asks for
        (see ``label_frequencies``)."""
        return bool(self.label_frequencies)

    def sample_labels(self, key: jax.Array, num: int) -> jax.Array:
        """``num`` conditions, ``[num]`` int32: a self-conditioned recipe's
        clusters drawn in their shares of the data (``label_frequencies``),
        else classes drawn uniformly. Only for a conditional recipe."""
        if not self.conditional:
            raise ValueError("sample_labels needs a conditional recipe (num_classes > 0)")
        if self.self_conditioned:
            return jax.random.choice(key, self.num_classes, (num,),
                                     p=jnp.asarray(self.label_frequencies))
        return jax.random.randint(key, (num,), 0, self.num_classes)

    def label_args(self, labels: jax.Array | None) -> tuple[jax.Array, ...]:
        """The extra positional arguments of the modules: ``(labels,)`` for a
        class-conditional recipe, ``(inputs,)`` for a translation recipe (its
        condition is the input image, passed here as ``labels``), else ``()``."""
        return (labels,) if self.conditional or self.translation else ()

    def generator_args(self, z: jax.Array | None,
                       labels: jax.Array | None) -> tuple[jax.Array, ...]:
        """The generator's positional arguments: ``(inputs,)`` for a
        translation recipe (``labels`` holds the inputs, ``z`` is unused),
        else ``(z, *label_args(labels))``."""
        if self.translation:
            return (labels,)
        return (z, *self.label_args(labels))

    def input_shape(self, example_shape: Sequence[int]) -> tuple[int, ...]:
        """The shape of one input of a translation recipe whose outputs have
        ``example_shape``: the same, with ``input_channels`` channels where set."""
        shape = tuple(example_shape)
        return (*shape[:-1], self.input_channels) if self.input_channels else shape

    def sample_latent(self, key: jax.Array, num: int, truncation: float = 0.0) -> jax.Array:
        """Draws ``num`` latent vectors, shape ``[num, latent_dim]``.

        ``truncation`` > 0 is the truncation trick (Brock et al., BigGAN,
        2019) for samples to look at or score, never for training: each
        component is drawn from the standard normal truncated to
        ``[-truncation, truncation]``, so the generator keeps to the latents
        it saw most in training. Lower thresholds trade variety (recall) for
        typical, cleaner samples (measured in experiments/results/README.md).

        Raises:
          ValueError: ``truncation`` is negative, or is set and the latent
            prior is not the standard normal.
        """
        shape = (num, self.latent_dim)
        if not truncation:
            return self.latent_sampler(key, shape)
        if truncation < 0:
            raise ValueError(f"truncation must be >= 0 (0: none), got {truncation!r}")
        if self.latent_sampler is not jax.random.normal:
            raise ValueError("truncation draws from a truncated standard normal, and this "
                             "recipe's latent_sampler is another prior; set truncation=0")
        return jax.random.truncated_normal(key, -truncation, truncation, shape)

    # What the fit loop asks of a recipe (jaxgan.loop.Trainable): a recipe of
    # other networks (CycleGAN's four) keeps the same methods over its own state.

    @property
    def has_moving_average(self) -> bool:
        """Whether states keep a moving average of the generator (``ema_decay > 0``)."""
        return bool(self.ema_decay)

    def check(self, example_shape: Sequence[int]) -> None:
        """Checks the module contract (:func:`check_modules`)."""
        check_modules(self, example_shape)

    def uses_convolution(self, example_shape: Sequence[int]) -> bool:
        """Whether either module runs a convolution (see :func:`uses_convolution`)."""
        return uses_convolution(self, example_shape)

    def create_states(self, seeds: Sequence[int] | jax.Array,
                      example_shape: Sequence[int]) -> GANState:
        """One state per seed, stacked (:func:`create_states`)."""
        return create_states(self, seeds, example_shape)

    def make_train_step(self, axis_name: str | None = None):
        """The pure train step (:func:`jaxgan.step.make_train_step`)."""
        from jaxgan.step import make_train_step  # the step module imports this one

        return make_train_step(self, axis_name)

    def generate(self, state: GANState, z: jax.Array, labels: jax.Array | None = None,
                 ema: bool = True) -> jax.Array:
        """Samples for latents ``z`` in inference mode (:func:`generate_from`)."""
        return generate_from(self, state, z, labels, ema)

    def translate(self, state: GANState, inputs: jax.Array, ema: bool = True,
                  key: jax.Array | None = None) -> jax.Array:
        """A translation recipe's outputs for ``inputs`` (:func:`translate`)."""
        return translate(self, state, inputs, ema, key)

    def describe(self) -> dict[str, Any]:
        """What a checkpoint records of this recipe, to refuse resuming
        another GAN: the modules (their flax reprs), the latent size,
        classes, losses, penalty, ``n_disc``, moving average and compute
        dtype. (Optimizers have no readable identity: a changed optimizer
        shows only where its state no longer fits.)"""
        name = function_name
        return {"generator": module_identity(repr(self.generator)),
                "discriminator": module_identity(repr(self.discriminator)),
                "latent_dim": self.latent_dim, "num_classes": self.num_classes,
                "n_disc": self.n_disc, "d_loss": name(self.d_loss),
                "g_loss": name(self.g_loss), "penalty": name(self.penalty),
                "penalty_weight": self.penalty_weight, "ema_decay": self.ema_decay,
                "ema_start": self.ema_start, "g_loss_uses_real": self.generator_loss_uses_real,
                **({} if not self.label_frequencies
                   else {"label_frequencies": list(self.label_frequencies)}),
                # Only where set, so that runs saved before the field resume.
                **({} if not self.class_loss_weight
                   else {"class_loss_weight": self.class_loss_weight}),
                **({} if self.d_stats_update is None
                   else {"d_stats_update": repr(self.d_stats_update)}),
                "compute_dtype": self.dtype_name(),
                **({} if not self.translation else {
                    "translation": True, "input_channels": self.input_channels,
                    "reconstruction_loss": name(self.reconstruction_loss),
                    "reconstruction_weight": self.reconstruction_weight})}

    def with_learning_rate_scale(self, scale: float) -> GANRecipe:
        """This recipe with both optimizers' updates multiplied by ``scale``.

        For optimizers whose update is proportional to the learning rate (SGD,
        Adam and their kin, with any schedule) that is the same as scaling the
        rates. The optimizer states keep their structure, so a checkpoint
        saved at one scale restores at another (the fit loop's rollback).
        """
        if scale == 1.0:
            return self
        return dataclasses.replace(self, g_optimizer=scale_updates(self.g_optimizer, scale),
                                   d_optimizer=scale_updates(self.d_optimizer, scale))


def scale_updates(optimizer: optax.GradientTransformation,
                  scale: float) -> optax.GradientTransformation:
    """``optimizer`` with its updates multiplied by ``scale`` and the same state.

    Written here rather than as ``optax.chain(optimizer, optax.scale(scale))``
    because the chain's state is a tuple that no longer matches a checkpoint
    of the plain optimizer.
    """

    def update(updates, state, params=None):
        updates, state = optimizer.update(updates, state, params)
        return jax.tree.map(lambda u: scale * u, updates), state

    return optax.GradientTransformation(optimizer.init, update)


class GANState(struct.PyTreeNode):
    """Everything that changes during training, as one pytree of arrays.

    Attributes:
      step: number of completed train steps (int32 scalar). Each step's
        randomness is derived from ``fold_in(key, step)``.
      key: the run's base PRNG key (raw uint32 key data); it never changes.
      g_params, d_params: the networks' parameters.
      g_batch_stats, d_batch_stats: BatchNorm running statistics (empty dicts
        for networks without BatchNorm).
      g_opt_state, d_opt_state: the optimizers' states.
      g_ema: with ``recipe.ema_decay > 0``, the generator's moving average
        ``{"params": ..., "batch_stats": ...}``; else ``None`` (no leaves, so
        a state without it has the same pytree as before EMA existed).

    The average covers the BatchNorm statistics as well as the parameters:
    they are averages of the live generator's activations already, and
    averaging them over the same window keeps them in step with the averaged
    weights (as timm's ``ModelEmaV2`` does with a network's buffers).
    """

    step: jax.Array
    key: jax.Array
    g_params: PyTree
    d_params: PyTree
    g_batch_stats: PyTree
    d_batch_stats: PyTree
    g_opt_state: optax.OptState
    d_opt_state: optax.OptState
    g_ema: PyTree = None


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


# The batch that check_modules traces (abstractly: nothing is computed). Not 2:
# layers such as a minibatch standard deviation over groups of 4 need more.
CHECK_BATCH = 8


def _trace_module(role: str, module: nn.Module, recipe: GANRecipe,
                  args: tuple[jax.ShapeDtypeStruct, ...]) -> tuple[Any, set[type]]:
    """Runs ``module.init`` and a train-mode ``apply`` abstractly on
    arguments ``args`` (a batch of :data:`CHECK_BATCH`; and, for the
    generator, an inference-mode apply); returns the train-mode output's
    shape and the classes of every module that ran, or raises
    :class:`ModuleContractError` naming the fix."""
    seen: set[type] = set()

    def record(next_fun, args, kwargs, context):
        seen.add(type(context.module))
        return next_fun(*args, **kwargs)

    streams = module_rngs(jax.random.PRNGKey(1))
    if recipe.translation:
        call = "(inputs, *, train)" if role == "generator" else "(x, inputs, *, train)"
        hint = "a translation recipe calls its modules so"
    else:
        call = "(z, labels, *, train)" if recipe.conditional else "(z, *, train)"
        if role == "discriminator":
            call = call.replace("z", "x")
        hint = ("recipe.num_classes > 0 makes both modules class-conditional"
                if recipe.conditional else "take train as a keyword argument")
    try:
        inspect.signature(type(module).__call__).bind(module, *args, train=True)
    except TypeError as e:
        raise ModuleContractError(f"the {role} cannot be called as {role}{call} "
                                  f"({_first_line(e)}); {hint}") from e

    def init_and_apply(*args):
        # Flax lets init fall back to the "params" stream for any name, so a
        # train-mode apply with the step's streams alone is what tells.
        variables = module.init({"params": jax.random.PRNGKey(0), **streams}, *args,
                                train=True)
        out = module.apply(variables, *args, train=True, rngs=streams,
                           mutable=["batch_stats"])[0]
        return variables, out

    try:
        with nn.intercept_methods(record):
            variables, out = jax.eval_shape(init_and_apply, *args)
    except flax.errors.InvalidRngError as e:
        raise ModuleContractError(
            f"the {role} draws from a random stream the train step does not provide "
            f"({_first_line(e)}); name its stream one of {', '.join(RNG_STREAMS)}") from e
    except (TypeError, ValueError, flax.errors.FlaxError) as e:
        # ValueError: a module's own check of its input (a size it cannot take).
        raise ModuleContractError(f"the {role} fails on a batch of {args[0].shape[0]} inputs "
                                  f"of shape {args[0].shape[1:]}: {_first_line(e)}") from e
    if role == "generator":  # samples are drawn in inference mode, with no streams
        try:
            jax.eval_shape(lambda v, *args: module.apply(v, *args, train=False),
                           variables, *args)
        except flax.errors.InvalidRngError as e:
            raise ModuleContractError(
                "the generator draws random numbers in inference mode (train=False), where "
                f"it gets no streams ({_first_line(e)}); draw them only when train is "
                "true") from e
    return out, seen


def check_modules(recipe: GANRecipe, example_shape: Sequence[int]) -> tuple[set[type], set[type]]:
    """Checks the module contract, abstractly, before anything is initialised.

    The contract: modules are called as ``generator(z, [labels,] train=...)``
    and ``discriminator(x, [labels,] train=...)`` with ``train`` a keyword;
    the generator makes examples of ``example_shape``; the discriminator
    returns logits of shape ``[batch]`` (a translation recipe's modules are
    called as ``generator(inputs, train=...)`` and ``discriminator(x,
    inputs, train=...)``, which may return patch logits ``[batch, ...]``;
    a generator with a ``dropout`` rate above 0 also takes ``noise=``, see
    :func:`noise_args`);
    a module's ``num_classes`` attribute,
    where it has one, agrees with the recipe's; random numbers come only from
    the streams of :data:`RNG_STREAMS`; and a discriminator with an
    input-gradient penalty has no BatchNorm (which mixes the examples that
    the penalty scores one by one; flax's ``nn.SpectralNorm`` is fine, though
    it keeps its state in the same ``batch_stats`` collection).

    Returns:
      The classes of the modules that run in the generator and in the
      discriminator.

    Raises:
      ModuleContractError: one line naming the broken rule and the fix.
    """
    if not (isinstance(example_shape, Sequence) and example_shape
            and all(isinstance(n, int) and n > 0 for n in example_shape)):
        raise ModuleContractError(f"example_shape must be the shape of one example, a tuple "
                                  f"of positive ints such as (2,) or (32, 32, 1); got "
                                  f"{example_shape!r}")
    example_shape = tuple(example_shape)
    for role in ("generator", "discriminator"):
        classes = getattr(getattr(recipe, role), "num_classes", None)
        if isinstance(classes, int) and classes != recipe.num_classes:
            raise ModuleContractError(
                f"the {role} has num_classes={classes} but the recipe has num_classes="
                f"{recipe.num_classes}; give both the same number of classes")
    batch = CHECK_BATCH
    if recipe.translation:
        condition = (jax.ShapeDtypeStruct((batch, *recipe.input_shape(example_shape)),
                                          jnp.float32),)
    else:
        condition = recipe.label_args(jax.ShapeDtypeStruct((batch,), jnp.int32))
    z = jax.ShapeDtypeStruct((batch, recipe.latent_dim), jnp.float32)
    fake, g_types = _trace_module("generator", recipe.generator, recipe,
                                  recipe.generator_args(z, condition[0] if condition else None))
    if not hasattr(fake, "shape") or tuple(fake.shape) != (batch, *example_shape):
        raise ModuleContractError(
            f"the generator makes examples of shape {tuple(getattr(fake, 'shape', ()))[1:]} "
            f"but the data's are {example_shape}; make its output [batch, "
            f"{', '.join(map(str, example_shape))}]")
    logits, d_types = _trace_module(
        "discriminator", recipe.discriminator, recipe,
        (jax.ShapeDtypeStruct((batch, *example_shape), jnp.float32), *condition))
    patches = recipe.translation and tuple(getattr(logits, "shape", ()))[:1] == (batch,)
    if not hasattr(logits, "shape") or (tuple(logits.shape) != (batch,) and not patches):
        raise ModuleContractError(
            f"the discriminator returns logits of shape {getattr(logits, 'shape', None)} for a "
            f"batch of {batch}; it must return one logit per example, shape [batch] (end it "
            "with x.reshape(-1) or x[:, 0])")
    if recipe.penalty is not None and any(issubclass(t, nn.BatchNorm) for t in d_types):
        raise ModuleContractError(
            "the discriminator has BatchNorm, which mixes the examples of a batch, and the "
            "recipe has an input-gradient penalty, which scores each example's own gradient; "
            "use LayerNorm, no normalisation or spectral norm, or drop the penalty")
    pack = getattr(recipe.discriminator, "pack", 1)  # DiffAugment passes its inner one's on
    if recipe.penalty is not None and isinstance(pack, int) and pack > 1:
        raise ModuleContractError(
            f"the discriminator packs {pack} examples per logit (PacGAN), and the recipe has "
            "an input-gradient penalty, which scores each example's own gradient; set "
            "pack=1 or drop the penalty")
    return g_types, d_types


def uses_convolution(recipe: GANRecipe, example_shape: Sequence[int]) -> bool:
    """Whether either module runs a convolution (a module class named ``*Conv*``)."""
    return any("Conv" in t.__name__ for types in check_modules(recipe, example_shape)
               for t in types)


def module_identity(description: str) -> str:
    """A module's repr as :meth:`GANRecipe.describe` records it, and as a
    resumed run compares it (the saved description passes through here too).

    jaxgan's modules gained fields (``dtype``, DiffAugment's ``adaptive``,
    the DCGAN's ``body_resolution``, ``pack`` and ``class_head``) after runs
    were saved with
    their repr: those are left out at their defaults, so older runs still
    resume. A DCGAN's ``impl`` is left out
    whatever it is: every implementation computes the same function of the
    same parameters (:mod:`jaxgan.models.layers`), and runs saved before it
    could be chosen recorded ``impl = 'conv'``.
    """
    return re.sub(r"\n\s*(dtype = None|adaptive = False|body_resolution = 0|pack = 1|"
                  r"class_head = False|impl = '\w+')(?=\n|$)", "", description)


def create_state(recipe: GANRecipe, key: jax.Array, example_shape: Sequence[int]) -> GANState:
    """Initialises both networks and optimizers.

    Pure, so ``jax.vmap(lambda k: create_state(recipe, k, shape))(keys)``
    builds one state per seed.

    Args:
      recipe: the GAN to build.
      key: PRNG key; split into the two initialisers and the training key.
      example_shape: shape of one real example, e.g. ``(2,)`` or ``(28, 28, 1)``.

    Raises:
      ModuleContractError: the modules break the contract of :func:`check_modules`.
    """
    check_modules(recipe, example_shape)
    g_key, d_key, train_key = jax.random.split(key, 3)
    condition = (jnp.zeros((1, *recipe.input_shape(example_shape))) if recipe.translation
                 else jnp.zeros((1,), jnp.int32))
    labels = recipe.label_args(condition)
    # Only the "params" stream initialises; the others are given for modules
    # that draw random numbers even in inference mode.
    g_vars = recipe.generator.init({"params": g_key, **module_rngs(g_key)},
                                   *recipe.generator_args(jnp.zeros((1, recipe.latent_dim)),
                                                          condition), train=False)
    d_vars = recipe.discriminator.init({"params": d_key, **module_rngs(d_key)},
                                       jnp.zeros((1, *example_shape)), *labels, train=False)
    g_params, d_params = g_vars["params"], d_vars["params"]
    g_batch_stats = g_vars.get("batch_stats", {})
    g_ema = None
    if recipe.ema_decay:
        # Copies, not the same buffers: a donated state must not hold one twice.
        g_ema = jax.tree.map(jnp.copy, {"params": g_params, "batch_stats": g_batch_stats})
    return GANState(
        step=jnp.zeros((), jnp.int32),
        key=train_key,
        g_params=g_params,
        d_params=d_params,
        g_batch_stats=g_batch_stats,
        d_batch_stats=d_vars.get("batch_stats", {}),
        g_opt_state=recipe.g_optimizer.init(g_params),
        d_opt_state=recipe.d_optimizer.init(d_params),
        g_ema=g_ema,
    )


def create_states(recipe: GANRecipe, seeds: Sequence[int] | jax.Array,
                  example_shape: Sequence[int]) -> GANState:
    """One state per seed, stacked on a leading axis (for ``jax.vmap``).

    Seed ``s`` gets ``PRNGKey(s)``, so a state inside a many-seed run equals
    the state of a single-seed run with that seed.
    """
    keys = jax.vmap(jax.random.PRNGKey)(jnp.asarray(seeds))
    return jax.vmap(lambda k: create_state(recipe, k, example_shape))(keys)


def generate(recipe: GANRecipe, state: GANState, key: jax.Array, num: int,
             labels: jax.Array | None = None, ema: bool = True,
             truncation: float = 0.0) -> jax.Array:
    """Draws ``num`` samples from the generator in inference mode.

    BatchNorm uses its running statistics, so samples do not depend on the
    other samples in the batch. A conditional generator needs ``labels``:
    integer classes ``[num]`` or class weights ``[num, num_classes]``. A state
    with a moving average (``recipe.ema_decay > 0``) draws from the average
    unless ``ema=False``. A self-conditioned generator
    (``recipe.label_frequencies``) draws its clusters from their shares,
    with ``key``, where ``labels`` is ``None``. ``truncation`` > 0 draws the
    latents with the truncation trick (:meth:`GANRecipe.sample_latent`).
    """
    if labels is None and recipe.self_conditioned:
        key, cluster_key = jax.random.split(key)
        labels = recipe.sample_labels(cluster_key, num)
    return generate_from(recipe, state, recipe.sample_latent(key, num, truncation), labels, ema)


def generator_variables(state: GANState, ema: bool = True) -> dict[str, PyTree]:
    """The generator's flax variables: its moving average where the state has
    one and ``ema`` is true, else the trained weights."""
    if ema and state.g_ema is not None:
        params, batch_stats = state.g_ema["params"], state.g_ema["batch_stats"]
    else:
        params, batch_stats = state.g_params, state.g_batch_stats
    variables = {"params": params}
    if batch_stats:
        variables["batch_stats"] = batch_stats
    return variables


def generate_from(recipe: GANRecipe, state: GANState, z: jax.Array,
                  labels: jax.Array | None = None, ema: bool = True) -> jax.Array:
    """The generator's output for given latents ``z`` (and labels), in
    inference mode, from its moving average unless ``ema=False`` (see
    :func:`generate`)."""
    if recipe.translation:
        raise ValueError("a translation recipe's generator takes input images, not latents; "
                         "call translate(recipe, state, inputs)")
    if recipe.conditional != (labels is not None):
        raise ValueError(f"the generator is conditional ({recipe.num_classes} classes); pass "
                         "labels" if recipe.conditional else
                         "the generator is unconditional; it takes no labels")
    variables = generator_variables(state, ema)
    variables["params"] = recipe.in_compute_dtype(variables["params"])
    return recipe.module_output(recipe.generator.apply(
        variables, *recipe.in_compute_dtype((z, *recipe.label_args(labels))), train=False))


def translate(recipe: GANRecipe, state: GANState, inputs: jax.Array,
              ema: bool = True, key: jax.Array | None = None) -> jax.Array:
    """A translation recipe's outputs for ``inputs [N, H, W, C_in]``, in
    inference mode (BatchNorm from its running statistics), from the
    generator's moving average unless ``ema=False``.

    Without ``key`` the output is deterministic: the generator's noise (its
    dropout) is off. With ``key`` the noise is drawn from it, one draw for
    the whole batch: how Pix2Pix samples its generator at test time, and how
    :mod:`jaxgan.evaluation` scores it (see
    :class:`jaxgan.models.translation.UNetGenerator`). Only a generator that
    declares a ``dropout`` rate above 0 is asked for its noise
    (:func:`noise_args`); any other is called as the module contract says.
    """
    if not recipe.translation:
        raise ValueError("translate needs a translation recipe (translation=True); a recipe "
                         "that generates from latents samples with generate_from")
    variables = generator_variables(state, ema)
    variables["params"] = recipe.in_compute_dtype(variables["params"])
    return recipe.module_output(recipe.generator.apply(
        variables, recipe.in_compute_dtype(inputs), train=False,
        **noise_args(recipe.generator, key)))


def noise_args(generator: nn.Module, key: jax.Array | None) -> dict[str, Any]:
    """The keyword arguments of a translation generator's ``apply`` in
    inference that draw its noise from ``key``: ``noise=True`` and the
    ``dropout`` stream, for a generator that declares a ``dropout`` rate
    above 0 (as :class:`jaxgan.models.translation.UNetGenerator` does, and
    takes ``noise=``); none for any other generator, or without a key."""
    if key is None or not getattr(generator, "dropout", 0):
        return {}
    return {"noise": True, "rngs": {"dropout": key}}


def discriminate_from(recipe: GANRecipe, state: GANState, images: jax.Array,
                      labels: jax.Array | None = None) -> jax.Array:
    """The discriminator's logits for ``images`` (and labels), in inference
    mode: BatchNorm reads its running statistics and nothing is updated. A
    realism score for latent edits (:func:`jaxgan.control.edit_latents`).
    A packed discriminator (PacGAN's ``pack`` > 1) scores each image together
    with the ``pack - 1`` after it in ``images``, as it did in training."""
    if (recipe.conditional or recipe.translation) != (labels is not None):
        raise ValueError("the discriminator is conditional; pass labels (a translation "
                         "recipe's: the inputs)" if recipe.conditional or recipe.translation
                         else "the discriminator is unconditional; it takes no labels")
    variables = {"params": recipe.in_compute_dtype(state.d_params)}
    if state.d_batch_stats:
        variables["batch_stats"] = state.d_batch_stats
    return recipe.module_output(recipe.discriminator.apply(
        variables, *recipe.in_compute_dtype((images, *recipe.label_args(labels))), train=False))


__all__ = ["RNG_STREAMS", "ComputePolicy", "GANRecipe", "GANState", "ModuleContractError", "PyTree",
           "check_modules", "create_state", "create_states", "default_optimizer",
           "discriminate_from", "function_name", "generate", "generate_from", "generator_variables",
           "module_identity", "module_rngs", "noise_args", "scale_updates", "translate",
           "uses_convolution"]
