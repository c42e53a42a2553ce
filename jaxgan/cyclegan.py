"""CycleGAN (Zhu et al. 2017): unpaired image-to-image translation.

Two generators translate between domains A and B (``G_ab: A -> B`` and
``G_ba: B -> A``) and two discriminators judge each domain's images alone
(``D_a``, ``D_b``; no paired input exists to show them). With no pairs to
compare against, what ties an output to its input is the cycle: ``G_ba(G_ab(a))``
should give ``a`` back and ``G_ab(G_ba(b))`` should give ``b``, in L1. The
identity term asks a generator to leave an image of its own output domain
unchanged (``G_ab(b) ~ b``), which keeps colours and, on digits, strokes from
drifting. Optionally (``semantic_weight``), frozen classifiers of the two
domains (guides) ask each translation to keep the class that its input
domain's guide reads in its input: read by that same guide, CyCADA's semantic
consistency (Hoffman et al. 2018), or by the output domain's guide. This is
for domains such as digits, where the cycle alone lets a generator swap
classes and hide the input in its output (Chu et al. 2017). The adversarial
losses are the least-squares ones, and each discriminator learns from a
history of earlier fakes as well as the newest (Shrivastava et al. 2017),
which damps the two players' oscillation.

:class:`CycleGANRecipe` keeps the fit loop's :class:`jaxgan.loop.Trainable`
protocol over a :class:`CycleGANState` of its own, so it trains, logs,
checkpoints and resumes through :func:`jaxgan.fit` like the other families.
The state holds the history buffers and how full they are: a resumed run
draws the same old fakes as an uninterrupted one, bit for bit.

One train step (:meth:`CycleGANRecipe.make_train_step`), on a batch ``(a,
b)`` of unpaired images, each ``[1, batch, H, W, C]``, in CycleGAN's order:

1. The generators' update: ``fake_b = G_ab(a)``, ``fake_a = G_ba(b)``, the
   round trips ``G_ba(fake_b)`` and ``G_ab(fake_a)``, and with an identity
   weight ``G_ab(b)`` and ``G_ba(a)``; the loss is the sum over both
   directions of ``g_loss(D(fake)) + cycle_weight * L1(round trip, input) +
   cycle_weight * identity_weight * L1(identity, image)``, the round trip
   that starts in B weighted by ``cycle_b_fraction`` as well (plus
   ``semantic_weight * CE(reader(fake_b), argmax guide_a(a))`` and its
   mirror, where the reader is ``guide_a`` or ``guide_b``), through the
   discriminators as they stand.
2. The history: each new fake enters its domain's buffer; while the buffer
   is not full the discriminator sees the new fake, after that, with
   probability 1/2, an old fake drawn from the buffer (which the new one
   replaces) instead.
3. The discriminators' update on real images against those fakes, made by the
   generators *before* step 1's update, as in the CycleGAN code (the step
   computes each fake once and uses it for both updates).

The GAN families of :mod:`jaxgan.step` update the discriminator first; here
the generators go first, as the paper's code does, so that one forward pass
of the generators serves both updates.

Randomness, with ``k = fold_in(state.key, state.step)``: module call ``c``
(numbered in the order above: the six generator calls, the two
discriminator calls of the generators' update, then ``D_b`` on real and on
fake and ``D_a`` likewise) draws its streams from ``fold_in(fold_in(k, 3),
c)``, per device; the history from ``fold_in(k, 4)``. Under ``pmap`` the
history takes in the global batch's fakes on every device alike, so the
buffers stay replicated and the data-parallel step computes the one-device
step's function of the global batch, as :mod:`jaxgan.step`'s does.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import flax.errors
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxgan import health, losses
from jaxgan.state import (
    ComputePolicy,
    ModuleContractError,
    PyTree,
    default_optimizer,
    function_name,
    module_identity,
    module_rngs,
    noise_args,
    scale_updates,
)
from jaxgan.step import DataParallel, Metrics, apply_module, step_key

_MODULE_STREAM = 3  # as jaxgan.step's
_HISTORY_STREAM = 4
# Module calls of one step (see the module docstring), for their random streams.
(_FAKE_B, _CYCLE_A, _FAKE_A, _CYCLE_B, _SAME_B, _SAME_A, _JUDGE_FAKE_B, _JUDGE_FAKE_A,
 _REAL_B, _OLD_B, _REAL_A, _OLD_A) = range(12)


def generator_loss(fake_logits: jax.Array) -> jax.Array:
    r"""CycleGAN's adversarial generator loss, :math:`(D(G(x)) - 1)^2` per patch.

    The mean squared error of the CycleGAN code: twice
    :func:`jaxgan.losses.least_squares_generator_loss`, whose one half would
    halve the adversarial term against the cycle and identity weights the
    paper tuned.
    """
    return 2.0 * losses.least_squares_generator_loss(fake_logits)


class CycleGANState(struct.PyTreeNode):
    """Everything a CycleGAN run needs to continue bit for bit, arrays only.

    Attributes:
      step, key: as :class:`jaxgan.GANState`'s.
      g_params, g_batch_stats: ``{"ab": ..., "ba": ...}``, the generators'.
      d_params, d_batch_stats: ``{"a": ..., "b": ...}``, the discriminators'
        (``"a"`` judges domain A).
      g_opt_state, d_opt_state: one optimizer state over both generators, one
        over both discriminators (the CycleGAN code chains each pair into one
        optimizer; Adam's update is per parameter, so that is the same as two).
      history: ``{"a": [history_size, H, W, C_a], "b": [history_size, H, W,
        C_b]}``, earlier fakes of each domain (float32).
      history_filled: how many slots of each buffer hold a fake (int32
        scalar; both fill at the same rate).
    """

    step: jax.Array
    key: jax.Array
    g_params: PyTree
    d_params: PyTree
    g_batch_stats: PyTree
    d_batch_stats: PyTree
    g_opt_state: optax.OptState
    d_opt_state: optax.OptState
    history: PyTree
    history_filled: jax.Array


def query_history(history: jax.Array, filled: jax.Array, fakes: jax.Array,
                  key: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """What the discriminator sees in place of ``fakes``, and the buffer after.

    The CycleGAN code's image pool, one fake after another: while the buffer
    ``history [size, ...]`` has free slots (``filled < size``) the fake fills
    the next one and is shown as it is; once full, with probability 1/2 the
    fake replaces a slot drawn uniformly and that slot's old fake is shown
    instead, else the fake is shown and the buffer kept. A pure function of
    ``key``; run as a ``lax.scan`` over the batch because each fake may show
    the one before it.

    Returns:
      ``(history, filled, shown)``, with ``shown`` of the shape of ``fakes``.
    """
    size = history.shape[0]
    if size == 0:
        return history, filled, fakes

    def one(carry, inputs):
        history, filled = carry
        fake, key = inputs
        coin_key, slot_key = jax.random.split(key)
        has_room = filled < size
        swap = jax.random.bernoulli(coin_key)
        slot = jnp.where(has_room, filled, jax.random.randint(slot_key, (), 0, size))
        old = history[slot]
        shown = jnp.where(has_room | ~swap, fake, old)
        history = history.at[slot].set(jnp.where(has_room | swap, fake, old))
        return (history, filled + has_room.astype(filled.dtype)), shown

    keys = jax.random.split(key, fakes.shape[0])
    (history, filled), shown = jax.lax.scan(one, (history, filled),
                                            (fakes.astype(history.dtype), keys))
    return history, filled, shown.astype(fakes.dtype)


def semantic_consistency(guide: Callable[[jax.Array], jax.Array], inputs: jax.Array,
                         outputs: jax.Array,
                         reader: Callable[[jax.Array], jax.Array] | None = None) -> jax.Array:
    """Semantic consistency: the cross-entropy of ``reader``'s logits on the
    translations ``outputs`` against the class ``guide`` reads in their
    ``inputs`` (its argmax, a constant), averaged over the batch. With no
    ``reader``, ``guide`` reads both (CyCADA's form). Both run in float32
    whatever the step's compute dtype."""
    read = jnp.argmax(guide(inputs.astype(jnp.float32)), axis=-1)
    logits = (reader or guide)(outputs.astype(jnp.float32)).astype(jnp.float32)
    return optax.softmax_cross_entropy_with_integer_labels(
        logits, jax.lax.stop_gradient(read)).mean()


SEMANTIC_READERS = ("input", "output")
# The guides' seed: other networks than the evaluation's classifiers
# (jaxgan.evaluation.EVAL_SEED), which also train on the whole domain.
GUIDE_SEED = 1


def fit_guides(source, num_steps: int, cache_dir: str | None = None,
               log: Callable[[str], None] | None = None
               ) -> tuple[Callable[[jax.Array], jax.Array], Callable[[jax.Array], jax.Array]]:
    """The semantic guides of :class:`CycleGANRecipe` for an unpaired
    ``source`` (:class:`jaxgan.data.UnpairedSource` with labels in both
    domains): a classifier of each domain, trained with :data:`GUIDE_SEED`
    for ``num_steps`` on that domain's training images only (never its
    held-out tenth, on which translations are scored), and cached under
    ``cache_dir`` when one is given. Returns their logit functions
    ``(guide_a, guide_b)``."""
    # Imported here: the classifier's module imports the data package, which
    # imports this package's top level, which imports this module.
    from jaxgan.metrics.classifier import fit_classifier, load_or_fit_classifier

    guides = []
    for key in ("a", "b"):
        domain = source.training_domain(key)
        if domain.labels is None:
            raise ValueError(f"semantic guides need labels in both domains, and domain "
                             f"{key.upper()} ({domain.name}) has none; set semantic_weight=0")
        if cache_dir is None:
            if log:
                log(f"training the semantic guide of domain {key.upper()} ({num_steps} steps "
                    f"on real {domain.name})")
            fitted = fit_classifier(domain, num_steps=num_steps, seed=GUIDE_SEED)
        else:
            # Several processes each fit the same guide; orbax saves only collectively.
            fitted = load_or_fit_classifier(domain, cache_dir, num_steps=num_steps,
                                            seed=GUIDE_SEED, log=log,
                                            write_cache=jax.process_count() == 1)
        if log:
            log(f"semantic guide of domain {key.upper()}: held-out accuracy "
                f"{fitted.accuracy:.3f}")
        guides.append(fitted.logits)
    return guides[0], guides[1]


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


@dataclasses.dataclass(frozen=True)
class CycleGANRecipe(ComputePolicy):
    """A static description of a CycleGAN and how to train it.

    Attributes:
      generator_ab, generator_ba: flax modules called as ``G(images,
        train=...)``, translating A to B and B to A; their noise, if any,
        from the ``dropout`` stream in training (and in inference where
        :meth:`translate` is given a key: :func:`jaxgan.state.noise_args`).
      discriminator_a, discriminator_b: flax modules called as ``D(images,
        train=...)``, returning logits ``[batch]`` or a patch map ``[batch,
        ...]`` (the losses act on every patch).
      input_channels: channels of domain A's images; 0: as many as domain
        B's. (B's images are the loop's examples, A's its inputs, as for a
        Pix2Pix recipe.)
      cycle_weight: lambda of the cycle-consistency L1 (10 in the paper).
      identity_weight: the identity L1's weight, as a fraction of
        ``cycle_weight`` (0.5 in the paper; 0 for none, which domains of
        different channel counts need).
      cycle_b_fraction: the weight of the round trip that starts in domain
        B (``G_ab(G_ba(b))`` against ``b``), as a fraction of the one that
        starts in A (1 in the paper). Below 1 where A's images hold less
        than B's (B to A loses detail that the round trip back cannot
        recover unless ``G_ba`` hides it in its output).
      history_size: fakes each domain's history keeps (50 in the paper; 0:
        the discriminators see only the newest fakes).
      semantic_weight: weight of the semantic consistency term (0: none, the
        paper's CycleGAN); it needs both guides.
      semantic_reader: which guide reads a translation, against the class
        its input domain's guide reads in its input: ``"input"`` (that same
        guide, CyCADA's form: each generator is steered by its input
        domain's labels alone) or ``"output"`` (the output domain's guide,
        which knows what that domain's digits of each class look like).
      guide_a, guide_b: frozen classifiers of domain A's and domain B's
        images, ``images -> logits [batch, classes]`` (constants of the
        step, such as :meth:`jaxgan.metrics.classifier.FittedClassifier.logits`
        of a classifier trained on that domain). ``G_ab(a)`` should keep
        the class that ``guide_a`` reads in ``a``, and ``G_ba(b)`` the class
        that ``guide_b`` reads in ``b``: each guide knows only its own
        domain's labels.
      d_loss: ``(real_logits, fake_logits) -> per-patch loss``; least squares.
      g_loss: ``fake_logits -> per-patch loss``; :func:`generator_loss`.
      g_optimizer, d_optimizer: one optax transformation over both generators
        and one over both discriminators (Adam, lr 2e-4, b1 0.5, in the paper).
      compute_dtype: the mixed-precision policy of :class:`jaxgan.GANRecipe`.
    """

    generator_ab: nn.Module
    generator_ba: nn.Module
    discriminator_a: nn.Module
    discriminator_b: nn.Module
    input_channels: int = 0
    cycle_weight: float = 10.0
    identity_weight: float = 0.5
    cycle_b_fraction: float = 1.0
    history_size: int = 50
    semantic_weight: float = 0.0
    semantic_reader: str = "input"
    guide_a: Callable[[jax.Array], jax.Array] | None = None
    guide_b: Callable[[jax.Array], jax.Array] | None = None
    d_loss: Callable[[jax.Array, jax.Array], jax.Array] = losses.least_squares_discriminator_loss
    g_loss: Callable[[jax.Array], jax.Array] = generator_loss
    g_optimizer: optax.GradientTransformation = dataclasses.field(
        default_factory=default_optimizer)
    d_optimizer: optax.GradientTransformation = dataclasses.field(
        default_factory=default_optimizer)
    compute_dtype: Any = None

    # What the fit loop reads (jaxgan.loop.Trainable): one real batch of each
    # domain per step, no classes, no moving average, and translation: the
    # loop evaluates it on held-out inputs (translate), not on latents.
    n_disc = 1
    num_classes = 0
    conditional = False
    has_moving_average = False
    translation = True

    def __post_init__(self):
        for name in ("input_channels", "history_size"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        for name in ("cycle_weight", "identity_weight", "cycle_b_fraction", "semantic_weight"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Real) or not value >= 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        if self.semantic_reader not in SEMANTIC_READERS:
            raise ValueError(f"semantic_reader must be one of {', '.join(SEMANTIC_READERS)}, "
                             f"got {self.semantic_reader!r}")
        if self.semantic_weight and (self.guide_a is None or self.guide_b is None):
            raise ValueError("semantic_weight > 0 needs guide_a and guide_b, a frozen "
                             "classifier of each domain")
        self.check_compute_dtype()

    def input_shape(self, example_shape: Sequence[int]) -> tuple[int, ...]:
        """The shape of one domain-A image, where ``example_shape`` is domain B's."""
        shape = tuple(example_shape)
        return (*shape[:-1], self.input_channels) if self.input_channels else shape

    # -- the contract, checked abstractly -------------------------------------

    def _trace(self, example_shape: Sequence[int]) -> set[type]:
        """Traces every module as :meth:`check` describes; returns the classes that ran."""
        seen: set[type] = set()

        def record(next_fun, args, kwargs, context):
            seen.add(type(context.module))
            return next_fun(*args, **kwargs)

        batch = 8
        shape_b = tuple(example_shape)
        shape_a = self.input_shape(shape_b)
        streams = module_rngs(jax.random.PRNGKey(1))
        calls = (("generator_ab", shape_a, shape_b), ("generator_ba", shape_b, shape_a),
                 ("discriminator_a", shape_a, None), ("discriminator_b", shape_b, None))
        for role, in_shape, out_shape in calls:
            module = getattr(self, role)
            x = jax.ShapeDtypeStruct((batch, *in_shape), jnp.float32)

            def init_and_apply(x, module=module):
                variables = module.init({"params": jax.random.PRNGKey(0), **streams}, x,
                                        train=True)
                return module.apply(variables, x, train=True, rngs=streams,
                                    mutable=["batch_stats"])[0]

            try:
                with nn.intercept_methods(record):
                    out = jax.eval_shape(init_and_apply, x)
            except (TypeError, ValueError, flax.errors.FlaxError) as e:
                raise ModuleContractError(
                    f"the {role.replace('_', ' ')} fails on a batch of {batch} images of shape "
                    f"{in_shape}: {_first_line(e)}; a CycleGAN module is called as "
                    "module(images, *, train)") from e
            got = tuple(getattr(out, "shape", ()))
            if out_shape is not None and got != (batch, *out_shape):
                raise ModuleContractError(
                    f"the {role.replace('_', ' ')} makes images of shape {got[1:]} from images "
                    f"of shape {in_shape}; it must make [batch, {', '.join(map(str, out_shape))}]")
            if out_shape is None and got[:1] != (batch,):
                raise ModuleContractError(
                    f"the {role.replace('_', ' ')} returns logits of shape {got} for a batch of "
                    f"{batch}; it must return [batch] or a patch map [batch, ...]")
        if self.identity_weight and shape_a != shape_b:
            raise ModuleContractError(
                f"the identity loss compares each domain's images with a generator's output "
                f"for them, but domain A's images are {shape_a} and B's {shape_b}; set "
                "identity_weight=0")
        return seen

    def check(self, example_shape: Sequence[int]) -> None:
        """Checks, abstractly, that each generator maps its domain's images to
        the other's shape and each discriminator returns ``[batch]`` or patch
        logits; raises :class:`jaxgan.ModuleContractError` naming the fix."""
        self._trace(example_shape)

    def uses_convolution(self, example_shape: Sequence[int]) -> bool:
        """Whether any of the four modules runs a convolution."""
        return any("Conv" in t.__name__ for t in self._trace(example_shape))

    def describe(self) -> dict[str, Any]:
        """What a checkpoint records of this recipe, to refuse resuming another GAN."""
        return {"family": "cyclegan",
                **{role: module_identity(repr(getattr(self, role)))
                   for role in ("generator_ab", "generator_ba", "discriminator_a",
                                "discriminator_b")},
                "input_channels": self.input_channels, "cycle_weight": self.cycle_weight,
                "identity_weight": self.identity_weight, "history_size": self.history_size,
                **({"cycle_b_fraction": self.cycle_b_fraction}
                   if self.cycle_b_fraction != 1 else {}),
                **({"semantic_weight": self.semantic_weight,
                    "semantic_reader": self.semantic_reader,
                    "guides": [function_name(self.guide_a), function_name(self.guide_b)]}
                   if self.semantic_weight else {}),
                "d_loss": function_name(self.d_loss), "g_loss": function_name(self.g_loss),
                "compute_dtype": self.dtype_name()}

    # -- states ---------------------------------------------------------------

    def create_state(self, key: jax.Array, example_shape: Sequence[int]) -> CycleGANState:
        """Initialises the four networks, both optimizers and empty histories.
        Pure (``vmap`` it over keys for many seeds)."""
        shape_b = tuple(example_shape)
        shape_a = self.input_shape(shape_b)
        keys = dict(zip(("ab", "ba", "a", "b", "train"), jax.random.split(key, 5), strict=True))

        def init(module, key, shape):
            variables = module.init({"params": key, **module_rngs(key)},
                                    jnp.zeros((1, *shape)), train=False)
            return variables["params"], variables.get("batch_stats", {})

        g = {"ab": init(self.generator_ab, keys["ab"], shape_a),
             "ba": init(self.generator_ba, keys["ba"], shape_b)}
        d = {"a": init(self.discriminator_a, keys["a"], shape_a),
             "b": init(self.discriminator_b, keys["b"], shape_b)}
        g_params = {name: params for name, (params, _) in g.items()}
        d_params = {name: params for name, (params, _) in d.items()}
        return CycleGANState(
            step=jnp.zeros((), jnp.int32), key=keys["train"],
            g_params=g_params, d_params=d_params,
            g_batch_stats={name: stats for name, (_, stats) in g.items()},
            d_batch_stats={name: stats for name, (_, stats) in d.items()},
            g_opt_state=self.g_optimizer.init(g_params),
            d_opt_state=self.d_optimizer.init(d_params),
            history={"a": jnp.zeros((self.history_size, *shape_a)),
                     "b": jnp.zeros((self.history_size, *shape_b))},
            history_filled=jnp.zeros((), jnp.int32))

    def create_states(self, seeds: Sequence[int] | jax.Array,
                      example_shape: Sequence[int]) -> CycleGANState:
        """One state per seed, stacked; seed ``s`` starts from ``PRNGKey(s)``."""
        self.check(example_shape)
        keys = jax.vmap(jax.random.PRNGKey)(jnp.asarray(seeds))
        return jax.vmap(lambda k: self.create_state(k, example_shape))(keys)

    def with_learning_rate_scale(self, scale: float) -> CycleGANRecipe:
        """This recipe with both optimizers' updates scaled (the loop's rollback)."""
        if scale == 1.0:
            return self
        return dataclasses.replace(self, g_optimizer=scale_updates(self.g_optimizer, scale),
                                   d_optimizer=scale_updates(self.d_optimizer, scale))

    # -- inference -------------------------------------------------------------

    def translate(self, state: CycleGANState, inputs: jax.Array, ema: bool = True,
                  backward: bool = False, key: jax.Array | None = None) -> jax.Array:
        """``G_ab(inputs)`` (``G_ba`` with ``backward``) in inference mode.
        ``ema`` is accepted for the loop's sake; CycleGAN keeps no average.
        ``key`` draws the generator's noise (its dropout, where it has one) as
        :func:`jaxgan.state.translate` does; without it the output is deterministic."""
        del ema
        name, module = ("ba", self.generator_ba) if backward else ("ab", self.generator_ab)
        variables = {"params": self.in_compute_dtype(state.g_params[name])}
        if state.g_batch_stats[name]:
            variables["batch_stats"] = state.g_batch_stats[name]
        return self.module_output(module.apply(variables, self.in_compute_dtype(inputs),
                                               train=False, **noise_args(module, key)))

    def direction(self, backward: bool = False) -> CycleDirection:
        """The translation A -> B (B -> A with ``backward``) as an evaluation reads it."""
        return CycleDirection(self, backward)

    def sample_latent(self, key: jax.Array, num: int) -> jax.Array:
        """No latents (``[num, 0]``): the generators translate images."""
        del key
        return jnp.zeros((num, 0))

    def generate(self, state, z, labels=None, ema=True):
        """Refused: a CycleGAN has no latents (the loop's protocol asks for the method)."""
        raise ValueError("a CycleGAN translates images rather than generating from latents; "
                         "call recipe.translate(state, images)")

    # -- training -----------------------------------------------------------------

    def make_train_step(self, axis_name: str | None = None):
        """The pure ``train_step(state, (a, b)) -> (state, metrics)`` of the
        module docstring, with ``a`` and ``b`` each ``[1, batch, H, W, C]``.

        ``axis_name``: as in :func:`jaxgan.step.make_train_step` (pmap);
        gradients, BatchNorm statistics and metrics are averaged over it.

        Metrics (each a mean over both directions): ``d_loss`` (the
        discriminators' loss), ``g_loss`` (the generators' adversarial loss),
        ``g_cycle`` and ``g_identity`` (the unweighted L1 terms), with guides
        ``g_semantic`` (the unweighted cross-entropy), ``d_loss_a``
        and ``d_loss_b``, ``d_real_logit`` and ``d_fake_logit``, and the
        health signals ``d_auc`` (the share of real-fake pairs ranked right),
        ``g_sample_spread`` (the fakes' spread over the real images') and
        ``g_grad_norm``.
        """
        dp = DataParallel(axis_name)
        g_ab, g_ba = dp.module(self.generator_ab), dp.module(self.generator_ba)
        d_a, d_b = dp.module(self.discriminator_a), dp.module(self.discriminator_b)
        recipe = self

        def train_step(state: CycleGANState, batch) -> tuple[CycleGANState, Metrics]:
            if not (isinstance(batch, tuple | list) and len(batch) == 2):
                raise ValueError("a CycleGAN step takes batch=(a [1, batch_size, H, W, C_a], "
                                 "b [1, batch_size, H, W, C_b]), unpaired images of each domain")
            a, b = batch
            if a.shape[0] != 1 or b.shape[0] != 1 or a.shape[1] != b.shape[1]:
                raise ValueError(f"a CycleGAN step takes one batch of each domain, [1, "
                                 f"batch_size, ...] alike; got {a.shape} and {b.shape}")
            a, b = a[0], b[0]
            key = step_key(state)
            module_key = dp.device_key(jax.random.fold_in(key, _MODULE_STREAM))

            def run(module, params, stats, call, x):
                return apply_module(recipe, module, params, stats,
                                    module_rngs(jax.random.fold_in(module_key, call)), x)

            def generator_objective(g_params):
                g_stats, d_stats = dict(state.g_batch_stats), dict(state.d_batch_stats)
                fake_b, g_stats["ab"] = run(g_ab, g_params["ab"], g_stats["ab"], _FAKE_B, a)
                cycle_a, g_stats["ba"] = run(g_ba, g_params["ba"], g_stats["ba"], _CYCLE_A,
                                             fake_b)
                fake_a, g_stats["ba"] = run(g_ba, g_params["ba"], g_stats["ba"], _FAKE_A, b)
                cycle_b, g_stats["ab"] = run(g_ab, g_params["ab"], g_stats["ab"], _CYCLE_B,
                                             fake_a)
                cycle_from_a = losses.l1_reconstruction_loss(cycle_a, a).mean()
                cycle_from_b = losses.l1_reconstruction_loss(cycle_b, b).mean()
                cycle = 0.5 * (cycle_from_a + cycle_from_b)
                identity = jnp.zeros(())
                if recipe.identity_weight:
                    same_b, g_stats["ab"] = run(g_ab, g_params["ab"], g_stats["ab"], _SAME_B, b)
                    same_a, g_stats["ba"] = run(g_ba, g_params["ba"], g_stats["ba"], _SAME_A, a)
                    identity = 0.5 * (losses.l1_reconstruction_loss(same_b, b).mean()
                                      + losses.l1_reconstruction_loss(same_a, a).mean())
                logits_b, d_stats["b"] = run(d_b, state.d_params["b"], d_stats["b"],
                                             _JUDGE_FAKE_B, fake_b)
                logits_a, d_stats["a"] = run(d_a, state.d_params["a"], d_stats["a"],
                                             _JUDGE_FAKE_A, fake_a)
                adversarial = 0.5 * (recipe.g_loss(logits_b).mean()
                                     + recipe.g_loss(logits_a).mean())
                semantic = jnp.zeros(())
                if recipe.semantic_weight:
                    crossed = recipe.semantic_reader == "output"
                    semantic = 0.5 * (
                        semantic_consistency(recipe.guide_a, a, fake_b,
                                             recipe.guide_b if crossed else None)
                        + semantic_consistency(recipe.guide_b, b, fake_a,
                                               recipe.guide_a if crossed else None))
                # Sums over the two directions, as the paper's objective.
                weighted_cycle = 0.5 * (cycle_from_a + recipe.cycle_b_fraction * cycle_from_b)
                total = 2 * (adversarial + recipe.cycle_weight * weighted_cycle
                             + recipe.cycle_weight * recipe.identity_weight * identity
                             + recipe.semantic_weight * semantic)
                return total, (g_stats, d_stats, adversarial, cycle, identity, semantic,
                               jax.lax.stop_gradient((fake_a, fake_b)))

            (_, aux), g_grads = jax.value_and_grad(generator_objective, has_aux=True)(
                state.g_params)
            g_stats, d_stats, g_loss, cycle, identity, semantic, (fake_a, fake_b) = aux
            g_grads, g_stats = dp.mean((g_grads, g_stats))
            g_updates, g_opt_state = recipe.g_optimizer.update(g_grads, state.g_opt_state,
                                                               state.g_params)
            g_params = optax.apply_updates(state.g_params, g_updates)

            # The histories take in the global batch's fakes on every device
            # alike (one key), so they stay replicated; each device keeps its rows.
            history_key = jax.random.fold_in(key, _HISTORY_STREAM)
            history_a, filled, shown_a = query_history(
                state.history["a"], state.history_filled, dp.gather(fake_a),
                jax.random.fold_in(history_key, 0))
            history_b, _, shown_b = query_history(
                state.history["b"], state.history_filled, dp.gather(fake_b),
                jax.random.fold_in(history_key, 1))
            shown_a, shown_b = dp.rows(shown_a), dp.rows(shown_b)

            def discriminator_objective(d_params):
                stats = dict(d_stats)
                real_b, stats["b"] = run(d_b, d_params["b"], stats["b"], _REAL_B, b)
                old_b, stats["b"] = run(d_b, d_params["b"], stats["b"], _OLD_B, shown_b)
                real_a, stats["a"] = run(d_a, d_params["a"], stats["a"], _REAL_A, a)
                old_a, stats["a"] = run(d_a, d_params["a"], stats["a"], _OLD_A, shown_a)
                loss_a = recipe.d_loss(real_a, old_a).mean()
                loss_b = recipe.d_loss(real_b, old_b).mean()
                return loss_a + loss_b, (stats, loss_a, loss_b, (real_a, real_b),
                                         (old_a, old_b))

            (_, (d_stats, loss_a, loss_b, real_logits, fake_logits)), d_grads = (
                jax.value_and_grad(discriminator_objective, has_aux=True)(state.d_params))
            d_grads, d_stats = dp.mean((d_grads, d_stats))
            d_updates, d_opt_state = recipe.d_optimizer.update(d_grads, state.d_opt_state,
                                                               state.d_params)
            d_params = optax.apply_updates(state.d_params, d_updates)

            def per_example(logits):  # a patch map's mean, over the global batch
                return jnp.concatenate([dp.gather(x.reshape(x.shape[0], -1).mean(axis=1))
                                        for x in logits])

            metrics = dp.mean({
                "d_loss": 0.5 * (loss_a + loss_b), "d_loss_a": loss_a, "d_loss_b": loss_b,
                "g_loss": g_loss, "g_cycle": cycle, "g_identity": identity,
                **({"g_semantic": semantic} if recipe.semantic_weight else {}),
                "d_real_logit": 0.5 * (real_logits[0].mean() + real_logits[1].mean()),
                "d_fake_logit": 0.5 * (fake_logits[0].mean() + fake_logits[1].mean()),
                "d_auc": health.ranking_accuracy(per_example(real_logits),
                                                 per_example(fake_logits)),
                "g_sample_spread": 0.5 * (health.spread_ratio(a, fake_a, dp.mean)
                                          + health.spread_ratio(b, fake_b, dp.mean)),
            })
            metrics["g_grad_norm"] = optax.tree.norm(g_grads)
            new_state = state.replace(
                step=state.step + 1, g_params=g_params, d_params=d_params,
                g_batch_stats=g_stats, d_batch_stats=d_stats,
                g_opt_state=g_opt_state, d_opt_state=d_opt_state,
                history={"a": history_a, "b": history_b}, history_filled=filled)
            return new_state, metrics

        train_step.n_disc = 1
        return train_step


@dataclasses.dataclass(frozen=True)
class CycleDirection:
    """One direction of a CycleGAN, seen as the translation recipe that
    :mod:`jaxgan.evaluation` scores: ``translate`` maps the direction's inputs
    to outputs, and ``translate_back`` maps outputs back (the round trip
    whose distance to the inputs is the cycle's error)."""

    recipe: CycleGANRecipe
    backward: bool = False

    translation = True
    num_classes = 0
    conditional = False
    has_moving_average = False

    def translate(self, state: CycleGANState, inputs: jax.Array, ema: bool = True,
                  key: jax.Array | None = None) -> jax.Array:
        """This direction's outputs for ``inputs`` (``ema`` is unused: no
        average; ``key`` as for :meth:`CycleGANRecipe.translate`)."""
        return self.recipe.translate(state, inputs, backward=self.backward, key=key)

    def translate_back(self, state: CycleGANState, outputs: jax.Array) -> jax.Array:
        """``outputs`` translated the other way: the round trip's end."""
        return self.recipe.translate(state, outputs, backward=not self.backward)


__all__ = ["GUIDE_SEED", "SEMANTIC_READERS", "CycleDirection", "CycleGANRecipe", "CycleGANState",
           "fit_guides", "generator_loss", "query_history", "semantic_consistency"]
