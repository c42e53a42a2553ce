"""Controllable generation: steering a trained generator through its latent space.

A trained generator ``G`` and a classifier ``f`` of the same data (class
logits) are enough to ask for a feature without retraining anything
(Shen et al. 2020 and the "controllable generation" lesson of most GAN
courses):

- :func:`edit_latents` moves latent vectors ``z`` by gradient ascent on the
  classifier's log-probability of a target class,

  .. math:: J(z) = \\log \\mathrm{softmax}(f(G(z)))_t
            - \\lambda \\frac{1}{C - 1} \\sum_{c \\ne t} |f(G(z))_c - f(G(z_0))_c|
            - \\mu \\, P(z) + \\rho \\, D(G(z)),

  where the second term (``other_weight`` = :math:`\\lambda`) penalises changes
  in the other classes' logits, so that the wanted feature moves and the rest
  stays. Each ``z`` stops once its target probability reaches
  ``stop_probability``; the whole path is returned. For a multi-label
  classifier of features (``features=True``: one independent sigmoid per
  logit, such as CelebA's attributes) the score is
  :math:`\\log \\sigma(f(G(z))_t)` instead, and the penalty keeps the other
  features where they were.
- :func:`edit_attribute` moves a continuous attribute of the image that the
  data have without labels (:func:`stroke_width`, :func:`slant`: computed
  from the pixels) while a classifier holds the image's class.
- :func:`interpolate_latents` walks the straight (or great-circle) line
  between two latents, and :func:`interpolate_classes` the line between two
  one-hot classes, for a conditional generator (whose modules take class
  weights as well as integer labels).

**Edits that stay on the data.** Gradient ascent on one classifier finds the
nearest image that *that network* calls the target, which is often an
adversarial pattern: a second network, or a person, still sees the old
digit. Three terms keep the edit where the generator was trained:

- the prior (``prior_weight`` = :math:`\\mu`): :func:`typical_set_penalty`
  keeps :math:`\\|z\\|` where a Gaussian prior's samples are; far outside it
  the generator was never trained and draws what no data look like;
- the discriminator (``realism`` and ``realism_weight`` = :math:`\\rho`): its
  logit of the edited image, a learnt measure of looking like the data;
- gradients that generalise: an ensemble of classifiers
  (:func:`ensemble_logits`) and the score averaged over Gaussian noise added
  to the image (``noise_std``, ``noise_samples``; the idea of randomized
  smoothing). Both wash out directions that only one network, or only one
  exact pixel pattern, responds to.

**A self-conditioned generator** (``config.clusters``) draws each sample
from a cluster of the data, and a cluster is mostly one class, so a move in
z alone keeps the class: the edit has to move the cluster too. Its latents
then carry their cluster weights (:func:`with_conditions`,
:func:`split_conditions`), and gradient ascent moves both.

``experiments/results/control_digits/README.md`` measures what each term buys,
judged by an SVM on the pixels (:mod:`jaxgan.metrics.judge`) rather than by
the guiding networks.

Everything here is pure ``jax``: ``generate`` is any function ``z -> images``
(for example ``lambda z: jaxgan.state.generate_from(recipe, state, z)``) and
``classify`` any function ``images -> logits``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
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


class AttributePath(NamedTuple):
    """The result of :func:`edit_attribute` for ``B`` latents edited ``T`` steps.

    Attributes:
      latents: ``[T + 1, B, latent_dim]``, the start at index 0.
      values: the attribute of each latent's image, ``[T + 1, B]``.
      logits: the holding classifier's logits, ``[T + 1, B, C]``.
      first_success: the first step at which the attribute had moved by
        ``stop_change``, or -1 if it never did.
    """

    latents: jax.Array
    values: jax.Array
    logits: jax.Array
    first_success: jax.Array

    @property
    def final_latents(self) -> jax.Array:
        return self.latents[-1]


# How sharply a latent's condition part is read (split_conditions): a one-hot
# start gives its condition weight 0.99 among 30 (e^8 / (e^8 + 29)), and an
# Adam step of 0.05 moves a logit by 0.4, so an edit can change its cluster
# within some ten steps.
CONDITION_SCALE = 8.0


def typical_set_penalty(z: jax.Array) -> jax.Array:
    """How far each latent's norm is from a standard Gaussian's, ``[B]``.

    For ``z ~ N(0, I_d)``, :math:`\\|z\\|^2` has mean ``d`` and standard
    deviation :math:`\\sqrt{2d}`; the penalty is the square of that z-score,
    :math:`((\\|z\\|^2 - d) / \\sqrt{2d})^2`. It is 0 on the typical set's
    shell and 4 two standard deviations away. Unlike the log-density
    :math:`-\\|z\\|^2/2`, it does not pull latents to the origin, where no
    sample of the prior lies in many dimensions.
    """
    d = z.shape[-1]
    return ((jnp.sum(z * z, -1) - d) / jnp.sqrt(2.0 * d)) ** 2


def ensemble_logits(classifiers: Sequence[Callable[[jax.Array], jax.Array]]
                    ) -> Callable[[jax.Array], jax.Array]:
    """One classifier from several: ``images -> log`` of their mean class
    probabilities (log-probabilities are logits, so the result goes wherever
    a classifier's logits do)."""
    if not classifiers:
        raise ValueError("an ensemble needs at least one classifier")

    def classify(images):
        stacked = jnp.stack([jax.nn.log_softmax(f(images)) for f in classifiers])
        return jax.nn.logsumexp(stacked, 0) - jnp.log(len(classifiers))

    return classify


def _ascend(objective, reached, z, num_steps, optimizer):
    """Gradient ascent on ``objective(z, step) -> (sum of each latent's J,
    per-latent record)``; a latent stops once ``reached(record)``. Returns the
    latents ``[T + 1, B, D]`` and the records ``[T + 1, B, ...]``."""
    def step(carry, i):
        z, opt_state, done = carry
        (_, record), grads = jax.value_and_grad(objective, has_aux=True)(z, i)
        done = done | reached(record)
        # Ascent: optax minimises, so hand it the negated gradient.
        updates, opt_state = optimizer.update(jax.tree.map(jnp.negative, grads), opt_state, z)
        z_next = jnp.where(done[:, None], z, optax.apply_updates(z, updates))
        return (z_next, opt_state, done), (z, record)

    init = (z, optimizer.init(z), jnp.zeros(z.shape[:1], bool))
    (z_last, _, _), (latents, records) = jax.lax.scan(step, init, jnp.arange(num_steps))
    _, last = objective(z_last, num_steps)
    join = lambda path, end: jnp.concatenate([path, end[None]])  # noqa: E731
    return join(latents, z_last), jax.tree.map(join, records, last)


def _first(hit: jax.Array) -> jax.Array:
    """``[T + 1, B]`` -> the first step where each latent hit, or -1."""
    return jnp.where(hit.any(0), jnp.argmax(hit, 0), -1)


def _check(z, num_steps, noise_std, noise_samples, key):
    if num_steps < 0:
        raise ValueError(f"num_steps must be at least 0, got {num_steps}")
    if z.ndim != 2:
        raise ValueError(f"z must be [batch, latent_dim], got shape {z.shape}")
    if noise_std < 0 or noise_samples < 1:
        raise ValueError(f"noise_std must be >= 0 and noise_samples >= 1, got {noise_std} "
                         f"and {noise_samples}")
    if noise_std > 0 and key is None:
        raise ValueError("noise_std > 0 draws noise: pass key")


def _noisy_score(score, images, step, noise_std, noise_samples, key):
    """``score(images)``, averaged over ``noise_samples`` draws of Gaussian
    noise of ``noise_std`` added to the images (fresh draws at every step)."""
    if noise_std == 0:
        return score(images)
    keys = jax.random.split(jax.random.fold_in(key, step), noise_samples)
    noisy = jax.vmap(lambda k: score(images + noise_std * jax.random.normal(
        k, images.shape, images.dtype)))(keys)
    return noisy.mean(0)


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
    *,
    prior_weight: float = 0.0,
    realism: Callable[[jax.Array], jax.Array] | None = None,
    realism_weight: float = 0.0,
    noise_std: float = 0.0,
    noise_samples: int = 1,
    key: jax.Array | None = None,
    prior_dims: int | None = None,
) -> EditPath:
    """Moves each latent in ``z`` towards images the classifier calls ``target``.

    Args:
      generate: ``z [B, latent_dim] -> images [B, ...]``, in inference mode
        (so that each image depends on its own ``z`` only).
      classify: ``images -> logits [B, C]`` (an ensemble: :func:`ensemble_logits`).
      z: the starting latents, ``[B, latent_dim]``.
      target: the class to move towards, one for all or ``[B]``.
      num_steps: gradient steps (0: the path is the start alone, with its
        verdict).
      learning_rate: the step size of the default optimizer, Adam (its steps
        have about this length per coordinate, whatever the scale of the
        classifier's gradients).
      other_weight: :math:`\\lambda` of the module docstring; 0 lets the other
        classes' logits move freely.
      stop_probability: a latent stops moving once its target probability
        (on the clean image) reaches this; ``None`` never stops.
      features: the logits are independent features (sigmoid per logit)
        rather than exclusive classes (softmax over logits).
      optimizer: an optax transformation to use instead of Adam.
      prior_weight: :math:`\\mu`, the weight of :func:`typical_set_penalty`
        (for a standard Gaussian prior).
      realism: ``images -> [B]``, larger for images more like the data (a
        discriminator's logit: :func:`jaxgan.state.discriminate_from`).
      realism_weight: :math:`\\rho`, its weight.
      noise_std, noise_samples: the score is averaged over this many draws of
        Gaussian noise of this standard deviation added to the image (0: the
        clean image's score).
      key: the noise's PRNG key (needed when ``noise_std > 0``).
      prior_dims: the prior's latent is the first ``prior_dims`` coordinates
        of ``z`` (all of them by default); the prior term leaves the rest
        free, such as the cluster weights that ``generate`` may read there
        (:func:`with_conditions`).

    Returns:
      The path, as an :class:`EditPath`. Jit-compatible.
    """
    _check(z, num_steps, noise_std, noise_samples, key)
    if realism_weight and realism is None:
        raise ValueError("realism_weight > 0 needs realism, a function images -> [B]")
    target = jnp.broadcast_to(jnp.asarray(target, jnp.int32), z.shape[:1])
    optimizer = optimizer or optax.adam(learning_rate)
    start_logits = classify(generate(z))
    num_classes = start_logits.shape[-1]
    others = 1.0 - jax.nn.one_hot(target, num_classes)  # [B, C]
    log_probabilities = jax.nn.log_sigmoid if features else jax.nn.log_softmax

    def log_target(logits):  # [..., B, C] -> [..., B]: the target's log-probability
        index = target.reshape((1,) * (logits.ndim - 2) + (-1, 1))
        return jnp.take_along_axis(log_probabilities(logits), index, -1)[..., 0]

    def objective(z, step):
        """Sum over the batch of each latent's J (latents do not interact)."""
        images = generate(z)
        logits = classify(images)
        score = (log_target(logits) if noise_std == 0 else _noisy_score(
            lambda x: log_target(classify(x)), images, step, noise_std, noise_samples, key))
        drift = jnp.sum(jnp.abs(logits - start_logits) * others, -1) / max(num_classes - 1, 1)
        j = score - other_weight * drift
        if prior_weight:
            j = j - prior_weight * typical_set_penalty(z[:, :prior_dims])
        if realism_weight:
            j = j + realism_weight * realism(images).reshape(z.shape[:1])
        return jnp.sum(j), logits

    def reached(logits):
        if stop_probability is None:
            return jnp.zeros(logits.shape[:1], bool)
        return jnp.exp(log_target(logits)) >= stop_probability

    latents, logits = _ascend(objective, reached, z, num_steps, optimizer)
    probability = jnp.exp(log_target(logits))
    first_success = (jnp.full(z.shape[:1], -1) if stop_probability is None
                     else _first(probability >= stop_probability))
    return EditPath(latents, logits, probability, first_success)


def with_conditions(z: jax.Array, labels: jax.Array, num_classes: int) -> jax.Array:
    """Latents that carry their condition, ``[B, latent_dim + num_classes]``:
    ``z`` followed by ``labels`` one-hot. :func:`split_conditions` reads them
    back as ``z`` and condition weights ``softmax(scale * v)``, so gradient
    ascent on the whole vector moves the condition too. For a self-conditioned
    generator, whose conditions are clusters of the data rather than classes
    a user asks for, that lets an edit reach the target's clusters, which a
    move in z alone seldom does."""
    return jnp.concatenate([z, jax.nn.one_hot(labels, num_classes, dtype=z.dtype)], -1)


def split_conditions(latents: jax.Array, latent_dim: int,
                     scale: float = CONDITION_SCALE) -> tuple[jax.Array, jax.Array]:
    """``(z [B, latent_dim], condition weights [B, C])`` of latents from
    :func:`with_conditions` (the weights sum to 1)."""
    return latents[:, :latent_dim], jax.nn.softmax(scale * latents[:, latent_dim:], -1)


def settle_conditions(
    generate: Callable[[jax.Array], jax.Array],
    classify: Callable[[jax.Array], jax.Array],
    path: EditPath,
    target: int | jax.Array,
    latent_dim: int,
    num_steps: int = 200,
    candidates: int | None = None,
    **options,
) -> EditPath:
    """Ends an edit of latents that carry their condition (:func:`with_conditions`)
    on a condition the generator was trained on, and finishes it in z.

    An edit that moves the condition weights stops wherever the classifier is
    satisfied, often at a blend of two or three clusters that the generator
    never drew in training, and there it draws blends that no person would
    name. This snaps each final latent's condition to one-hot: of its
    ``candidates`` largest weights (all by default), the one whose image
    ``classify`` gives the highest probability of ``target``, z kept. Then it
    goes on by gradient ascent on z alone, the condition held, for up to
    ``num_steps``
    (:func:`edit_latents` with ``**options``: its stop, prior and realism
    terms).

    Args:
      generate: ``latents [B, latent_dim + C] -> images``, as given to
        :func:`edit_latents` for ``path``.
      classify: ``images -> logits [B, C']``.
      path: the edit to finish.
      target: the class it moved towards, one for all or ``[B]``.
      latent_dim: the size of z; the rest of a latent is the condition part.
      num_steps: the most steps of the ascent in z.
      candidates: how many of the largest condition weights to try (None:
        every condition, a search over the generator's own discrete latent).
      **options: keyword arguments of :func:`edit_latents` (not ``prior_dims``:
        the prior term reads the whole of z here; not ``features``: the
        classes are exclusive).

    Returns:
      An :class:`EditPath` of ``T + num_steps + 2`` latents: each latent's
      path up to where it stopped (its end, if it never did), then the snap
      (one-hot condition from there on) and the ascent in z; after that it
      holds its last value. ``first_success`` is the first step, counted
      from the start of ``path``, at which the *settled* path reaches the
      stop: the snap's own step if the snapped image is already there, -1
      if it never gets there (even where ``path`` itself had). Jit-compatible.
    """
    if path.latents.shape[-1] <= latent_dim:
        raise ValueError(f"the latents have {path.latents.shape[-1]} coordinates, no condition "
                         f"part after latent_dim={latent_dim}: edit latents made by "
                         "with_conditions")
    if candidates is not None and candidates < 1:
        raise ValueError(f"candidates must be at least 1 (or None: all), got {candidates}")
    if options.get("features") or "prior_dims" in options:
        raise ValueError("settle_conditions reads exclusive classes and the prior on all of z: "
                         "pass neither features nor prior_dims")
    final = path.final_latents
    z, weights = final[:, :latent_dim], final[:, latent_dim:]
    num_conditions = weights.shape[-1]
    target = jnp.broadcast_to(jnp.asarray(target, jnp.int32), z.shape[:1])
    top = jax.lax.top_k(weights, min(candidates or num_conditions, num_conditions))[1]

    def target_log_probability(conditions):
        logits = classify(generate(with_conditions(z, conditions, num_conditions)))
        return jnp.take_along_axis(jax.nn.log_softmax(logits), target[:, None], -1)[:, 0]

    # One candidate at a time: B images through the networks at once, not B k.
    scores = jax.lax.map(target_log_probability, top.T).T  # [B, k]
    chosen = jnp.take_along_axis(top, jnp.argmax(scores, -1)[:, None], -1)[:, 0]
    held = jax.nn.one_hot(chosen, num_conditions, dtype=final.dtype)
    settled = edit_latents(lambda z: generate(jnp.concatenate([z, held], -1)), classify, z,
                           target, num_steps, **options)
    settled = settled._replace(latents=jnp.concatenate(
        [settled.latents, jnp.broadcast_to(held, settled.latents.shape[:2] + held.shape[1:])],
        -1))
    # Each latent's own path: the first edit up to where it stopped, then at
    # once the snap and the ascent in z; after its end it holds its last value.
    first_len, second_len = path.latents.shape[0], settled.latents.shape[0]
    stop = jnp.where(path.first_success >= 0, path.first_success, first_len - 1)  # [B]
    t = jnp.arange(first_len + second_len)[:, None]
    in_first = t <= stop

    def at(x, index):  # x [T, B, ...] at index [L, B] -> [L, B, ...]
        return jnp.take_along_axis(x, index.reshape(index.shape + (1,) * (x.ndim - 2)), 0)

    def join(a, b):
        second = at(b, jnp.clip(t - stop - 1, 0, second_len - 1))
        return jnp.where(in_first.reshape(in_first.shape + (1,) * (a.ndim - 2)),
                         at(a, jnp.minimum(t, stop)), second)

    return EditPath(
        *(join(a, b) for a, b in zip(path[:3], settled[:3], strict=True)),
        jnp.where(settled.first_success >= 0, stop + 1 + settled.first_success, -1))


def edit_attribute(
    generate: Callable[[jax.Array], jax.Array],
    attribute: Callable[[jax.Array], jax.Array],
    classify: Callable[[jax.Array], jax.Array],
    z: jax.Array,
    direction: float = 1.0,
    scale: float = 1.0,
    num_steps: int = 100,
    learning_rate: float = 0.05,
    hold_weight: float = 1.0,
    stop_change: float | None = 1.5,
    prior_weight: float = 0.0,
    optimizer: optax.GradientTransformation | None = None,
) -> AttributePath:
    """Moves a continuous attribute of each latent's image while its class holds.

    Ascends :math:`J(z) = s\\,a(G(z)) / \\sigma + \\eta \\log p_f(c_0 | G(z))
    - \\mu P(z)`, where ``a`` is the attribute, ``s`` the ``direction``
    (+1 more, -1 less), :math:`\\sigma` its ``scale`` (its standard deviation
    over the data, so that steps and ``stop_change`` are in data units),
    :math:`c_0` the class ``classify`` gives the starting image, and
    :math:`\\eta` the ``hold_weight``.

    Args:
      generate: ``z [B, latent_dim] -> images``, in inference mode.
      attribute: ``images -> [B]``, differentiable (:func:`stroke_width`, :func:`slant`).
      classify: ``images -> logits [B, C]``: the class to hold.
      z: the starting latents, ``[B, latent_dim]``.
      direction: +1 to raise the attribute, -1 to lower it (or ``[B]``).
      scale: the attribute's unit, its spread over the data.
      num_steps, learning_rate, optimizer: as for :func:`edit_latents`.
      hold_weight: :math:`\\eta`; 0 lets the class go.
      stop_change: a latent stops once its attribute has moved this many
        ``scale`` units in ``direction``; ``None`` never stops.
      prior_weight: :math:`\\mu`, the weight of :func:`typical_set_penalty`.

    Returns:
      The path, as an :class:`AttributePath`. Jit-compatible.
    """
    _check(z, num_steps, 0.0, 1, None)
    optimizer = optimizer or optax.adam(learning_rate)
    direction = jnp.broadcast_to(jnp.asarray(direction, jnp.float32), z.shape[:1])
    start_images = generate(z)
    start_value = attribute(start_images)
    start_class = jnp.argmax(classify(start_images), -1)

    def objective(z, step):
        images = generate(z)
        value, logits = attribute(images), classify(images)
        held = jnp.take_along_axis(jax.nn.log_softmax(logits), start_class[:, None], -1)[:, 0]
        j = direction * value / scale + hold_weight * held
        if prior_weight:
            j = j - prior_weight * typical_set_penalty(z)
        return jnp.sum(j), (value, logits)

    def moved(value):
        return direction * (value - start_value) / scale

    def reached(record):
        if stop_change is None:
            return jnp.zeros(z.shape[:1], bool)
        return moved(record[0]) >= stop_change

    latents, (values, logits) = _ascend(objective, reached, z, num_steps, optimizer)
    first_success = (jnp.full(z.shape[:1], -1) if stop_change is None
                     else _first(moved(values) >= stop_change))
    return AttributePath(latents, values, logits, first_success)


def _ink(images: jax.Array) -> jax.Array:
    """``[B, H, W, C]`` in [-1, 1] -> ink in [0, 1] per pixel, ``[B, H, W]``
    (channels averaged; white ink on black, as the digits are drawn)."""
    return (jnp.clip(images, -1, 1).mean(-1) + 1) / 2


def stroke_width(images: jax.Array) -> jax.Array:
    """The mean width of the strokes, in pixels, ``[B]``.

    A stroke of width ``w`` and length ``L`` covers about ``w L`` of ink and
    has about ``2 L`` of edge, so ``w`` is twice the ink over the edge
    length. The edge length is the image's total variation (the summed norm
    of its finite-difference gradient), which is differentiable, so the width
    can be edited by gradient ascent. It does not grow with the digit's size,
    as the ink alone would.
    """
    ink = _ink(images)
    dx = jnp.diff(ink, axis=2)[:, :-1, :]
    dy = jnp.diff(ink, axis=1)[:, :, :-1]
    edge = jnp.sqrt(dx * dx + dy * dy + 1e-6).sum((1, 2))
    return 2 * ink.sum((1, 2)) / jnp.maximum(edge, 1e-3)


def slant(images: jax.Array) -> jax.Array:
    """How far the strokes lean to the right, ``[B]``: the horizontal shift of
    the ink per row, from its second moments (0 upright; 0.3 means the top
    leans right by 0.3 pixels per pixel of height)."""
    ink = _ink(images)
    _, h, w = ink.shape
    y, x = jnp.meshgrid(jnp.arange(h, dtype=ink.dtype), jnp.arange(w, dtype=ink.dtype),
                        indexing="ij")
    mass = jnp.maximum(ink.sum((1, 2)), 1e-3)
    mean_x = (ink * x).sum((1, 2)) / mass
    mean_y = (ink * y).sum((1, 2)) / mass
    dx, dy = x - mean_x[:, None, None], y - mean_y[:, None, None]
    # Rows count downwards, so a top leaning right has x falling as y grows.
    return -(ink * dx * dy).sum((1, 2)) / jnp.maximum((ink * dy * dy).sum((1, 2)), 1e-3)


#: The attributes :func:`edit_attribute` can move by name (``jaxgan-control --attribute``).
ATTRIBUTES: Mapping[str, Callable[[jax.Array], jax.Array]] = MappingProxyType(
    {"stroke_width": stroke_width, "slant": slant})


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


__all__ = ["ATTRIBUTES", "CONDITION_SCALE", "AttributePath", "EditPath", "edit_attribute",
           "edit_latents", "ensemble_logits", "interpolate_classes", "interpolate_latents",
           "settle_conditions", "slant", "split_conditions", "stroke_width", "typical_set_penalty",
           "with_conditions"]
