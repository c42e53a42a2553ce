"""Training health: signals that a GAN is dying, computed in the step, and the
loop's monitor that turns them into one warning line per symptom.

A failed GAN often trains on without an error: the losses stay finite while
the generator draws one grey image for every z, or the discriminator sees
through every fake. Three signals name the common ways, each cheap enough to
compute in every train step (:mod:`jaxgan.step` logs them):

- ``g_sample_spread``: how much the generated batch varies across z, as a
  share of how much the real batch varies (:func:`spread_ratio`). Near 1
  for a healthy generator; near 0 when every z gives nearly the same image.
- ``d_auc``: the share of (real, fake) pairs in the batch that the
  discriminator ranks the right way round (:func:`ranking_accuracy`), for
  any loss (a Wasserstein critic's logits have no fixed sign, but their
  order means the same). 0.5 when it cannot tell them apart; 1 when it
  separates every real example from every fake one.
- ``g_grad_norm``: the global norm of the generator's gradient.

:class:`HealthMonitor` reads each log record (means over the interval) and
the evaluation's coverage, and reports a symptom once when it appears, with
what usually helps. The thresholds and the reasons for them are in
:class:`HealthThresholds`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

ON_COLLAPSE = ("warn", "stop")


def ranking_accuracy(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """The share of (real, fake) pairs with the real logit above the fake one
    (ties count half): the area under the discriminator's ROC curve on this
    batch, ``[B_real] x [B_fake] -> []``."""
    real, fake = real_logits.reshape(-1, 1), fake_logits.reshape(1, -1)
    return jnp.mean((real > fake) + 0.5 * (real == fake))


def _spread(x: jax.Array, mean: Callable) -> jax.Array:
    # The mean over features of the standard deviation across the batch, from
    # the first two moments, which ``mean`` can average over devices first.
    x = x.reshape(x.shape[0], -1).astype(jnp.float32)
    first, second = mean((x.mean(0), jnp.square(x).mean(0)))
    return jnp.sqrt(jnp.maximum(second - jnp.square(first), 0.0)).mean()


def spread_ratio(real: jax.Array, fake: jax.Array,
                 mean: Callable = lambda moments: moments) -> jax.Array:
    """How much ``fake`` varies across its batch, over how much ``real`` does
    (the mean over features of the per-feature standard deviation). Under
    data parallelism ``mean`` averages the per-device moments (``pmean``), so
    the ratio is the global batch's."""
    return _spread(fake, mean) / jnp.maximum(_spread(real, mean), 1e-12)


@dataclasses.dataclass(frozen=True)
class HealthThresholds:
    """When :class:`HealthMonitor` names a symptom (values measured on this
    project's runs; see experiments/README.md, "Training health").

    Attributes:
      min_spread: ``g_sample_spread`` below this for ``patience`` intervals in
        a row is a generator that draws (nearly) one image for every z. Even a
        freshly initialised DCGAN generator's samples vary by about a tenth of
        the data's (0.10 to 0.19 in the digits smoke runs), and a trained one's
        by most of it; a generator that draws one flat image for every z varies
        by well under a hundredth. 0.02 sits between.
      max_auc: a discriminator that wins outright ranks (essentially) every
        real example above every fake one: ``d_auc`` at or above this for
        ``patience`` intervals in a row, while ...
      g_loss_rise: ... the generator's loss rises at every one of those
        intervals, by at least this much (nats for the BCE losses) in all: the
        generator is losing ground it cannot win back. A discriminator that
        merely separates early blobs from digits (``d_auc`` 1 from the first
        interval in short runs) while the generator holds its loss is not
        that; nor is the slow rise of a long DCGAN run (about 0.7 over three
        intervals of 250 steps at its steepest on the digits). A generator
        whose learning rate is near zero rose by 2.0 (0.75 to 2.79) in its
        three intervals after step 120.
      patience: consecutive log intervals a signal must persist (one interval
        can be a blip).
      coverage_drop: at an evaluation, classes or modes covered falling to
        this share of the most the run has covered is a collapse onto fewer
        of them (measured from the run's own best, so the slow rise of
        coverage early in training is never taken for a loss).
      min_coverage: ... once that best is at least this many classes or modes.
        Before it, coverage is noise: a 40-step smoke run on the ring of eight
        Gaussians covers one mode at one evaluation and none at the next, which
        says nothing about collapse.
    """

    min_spread: float = 0.02
    max_auc: float = 0.99
    g_loss_rise: float = 1.5
    patience: int = 3
    coverage_drop: float = 0.5
    min_coverage: float = 3


COVERAGE_METRICS = ("classes_covered", "modes_covered")

REMEDIES = {
    "same_image": "the generator draws nearly the same image for every z (g_sample_spread "
                  "{value:.3g}; the data's is 1); try a lower discriminator learning rate, an R1 "
                  "penalty or augmentation, or check the generator's output layer",
    "d_wins": "the discriminator wins outright (it ranks {value:.1%} of real-fake pairs right "
              "and the generator's loss keeps rising, to {g_loss:.3g}; g_grad_norm {grad:.3g}); "
              "try a lower discriminator learning rate, an R1 penalty, augmentation "
              "(config.augment) or spectral normalisation",
    "coverage": "the samples collapse onto fewer {what} ({value:g}, from {best:g} at step "
                "{best_step}); try a lower discriminator learning rate, an R1 penalty or "
                "augmentation",
}


class HealthMonitor:
    """Reads a run's log records in order and names symptoms of a dying GAN.

    :meth:`update` takes one record (the interval's mean metrics, with the
    evaluation's at evaluation steps) and returns the warning lines for
    symptoms that appeared in it; a symptom is named again only after it has
    gone away. Records without the signals (a user's recipe of another kind)
    raise nothing.
    """

    def __init__(self, thresholds: HealthThresholds | None = None):
        self.thresholds = thresholds or HealthThresholds()
        self._streak = {"same_image": 0, "d_wins": 0}
        self._g_losses: list[float] = []  # the last patience + 1 intervals
        self._active: set[str] = set()
        self._best: dict[str, tuple[float, int]] = {}

    @property
    def active(self) -> frozenset[str]:
        """The symptoms present at the last record."""
        return frozenset(self._active)

    def update(self, record: dict[str, Any]) -> list[str]:
        """Reads the next log record; returns a line for each symptom that
        appeared in it (none for one that persists)."""
        t = self.thresholds
        present = {}
        spread, auc = record.get("g_sample_spread"), record.get("d_auc")
        if "g_loss" in record:
            self._g_losses = [*self._g_losses, record["g_loss"]][-(t.patience + 1):]
        losses = self._g_losses
        losing = (len(losses) == t.patience + 1 and losses[-1] - losses[0] >= t.g_loss_rise
                  and all(b > a for a, b in zip(losses, losses[1:], strict=False)))
        for name, value, sick in (("same_image", spread, spread is not None
                                   and spread < t.min_spread),
                                  ("d_wins", auc, auc is not None and auc >= t.max_auc)):
            if value is None:
                continue
            self._streak[name] = self._streak[name] + 1 if sick else 0
            if self._streak[name] >= t.patience and (name != "d_wins" or losing):
                present[name] = REMEDIES[name].format(
                    value=value, grad=record.get("g_grad_norm", float("nan")),
                    g_loss=record.get("g_loss", float("nan")))
        for name in COVERAGE_METRICS:
            if name not in record:
                continue
            value = record[name]
            best, best_step = self._best.get(name, (value, record["step"]))
            if value > best:
                best, best_step = value, record["step"]
            self._best[name] = (best, best_step)
            if best >= t.min_coverage and value <= t.coverage_drop * best:
                present["coverage"] = REMEDIES["coverage"].format(
                    what=name.split("_")[0], value=value, best=best, best_step=best_step)
            else:
                self._active.discard("coverage")
        if "coverage" in self._active and not any(n in record for n in COVERAGE_METRICS):
            present.setdefault("coverage", None)  # no evaluation here: it stands as it was
        new = [text for name, text in present.items() if name not in self._active and text]
        self._active = set(present)
        return new


__all__ = ["COVERAGE_METRICS", "ON_COLLAPSE", "HealthMonitor", "HealthThresholds",
           "ranking_accuracy", "spread_ratio"]
