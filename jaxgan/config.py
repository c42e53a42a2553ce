"""The experiment config: its schema's defaults, cross-field checks, resume
rules, and the one place a config becomes ``(recipe, source, options)``.

A config is an ``ml_collections.ConfigDict`` (the shipped ones live in
``experiments/configs/``, one comment per field). :func:`build` validates it
and returns what :func:`jaxgan.fit` takes; every value is then checked again
by the constructor that owns it (:class:`jaxgan.loop.FitOptions`,
:class:`jaxgan.GANRecipe`, the modules), and this layer turns their errors
into :class:`ConfigError`, the one-line, exit-2 message of the scripts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import re
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax.numpy as jnp
import ml_collections
import optax

from jaxgan import losses, penalties
from jaxgan.augment import AdaptiveProbability, DiffAugment
from jaxgan.cyclegan import CycleGANRecipe, fit_guides
from jaxgan.cyclegan import generator_loss as cyclegan_generator_loss
from jaxgan.data import ArraySource, registry
from jaxgan.data import clusters as clusters_lib
from jaxgan.data.arrays import SHUFFLES
from jaxgan.data.images import DataError
from jaxgan.data.pairs import PairedSource
from jaxgan.data.stacked import StackedSource
from jaxgan.data.unpaired import UnpairedSource
from jaxgan.evaluation import NO_LATENTS
from jaxgan.loop import (
    FitError,
    FitOptions,
    check_options,
    check_resume_step,
    check_same_run,
    is_positive_int,
)
from jaxgan.models import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    layers,
)
from jaxgan.models.conditioning import CONDITIONINGS, PerChannelConditions
from jaxgan.models.translation import PatchDiscriminator, UNetGenerator
from jaxgan.programs import resolve_seed_batching
from jaxgan.state import GANRecipe, ModuleContractError, check_modules

# pix2pix: a U-Net translating paired images, judged by a PatchGAN (jaxgan.data.pairs);
# cyclegan: two U-Nets and two PatchGANs between unpaired domains (jaxgan.cyclegan).
MODELS = ("mlp", "dcgan", "pix2pix", "cyclegan")
TRANSLATION_MODELS = ("pix2pix", "cyclegan")
LR_SCHEDULES = ("constant", "cosine")
# The compute dtypes a config may name (float16 would need loss scaling).
COMPUTE_DTYPES = ("float32", "bfloat16")
# How a DCGAN computes its convolutions (jaxgan.models.layers: "auto" reads the
# backend's entry of BACKEND_IMPLS).
CONV_IMPLS = ("auto", *layers.IMPLS)
# Fields that only newer configs have, with the value older configs meant.
OPTIONAL_FIELDS = {"data_placement": "auto", "download": True, "classifier_steps": 0,
                   "d_normalization": "batch", "conditioning": "none", "classifier_dir": None,
                   "on_nan": "stop", "ema_decay": 0.0, "ema_start": 0, "seed_batching": "auto",
                   "compute_dtype": "float32", "augment": "none", "augment_target": 0.0,
                   "augment_p_step": 5e-4, "data_order": "permutation",
                   "on_collapse": "warn", "conv_impl": "auto", "unet_depth": 2,
                   "patch_layers": 2, "g_dropout": 0.5, "reconstruction_weight": 100.0,
                   "adversarial_weight": 1.0, "cycle_weight": 10.0, "identity_weight": 0.5,
                   "cycle_b_fraction": 1.0,
                   "history_size": 50, "semantic_weight": 0.0,
                   "semantic_reader": "input", "g_native_size": 0, "clusters": 0,
                   "cluster_features": "pixels", "truncation": 0.0,
                   "body_size": 0, "d_pack": 1, "per_channel_conditions": False,
                   "class_loss_weight": 0.0}
# Fields a resumed run may change: the fit options that steer logging and
# evaluation, and where the data are read from.
# conv_impl too: every implementation computes the same function of the same
# parameters.
RESUME_MAY_CHANGE = FitOptions.RESUME_MAY_CHANGE | {"data_dir", "download", "conv_impl"}


# k-means' seed for config.clusters: every seed of a run, and every run of a
# dataset, conditions on the same clusters.
CLUSTER_SEED = 0


class ConfigError(FitError):
    """A user error in the config, the data or the workdir: reported in one line."""


def option(config: ml_collections.ConfigDict, name: str):
    """``config.name``, or the value a config that predates the field meant."""
    return config.get(name, OPTIONAL_FIELDS[name])


def check_resumable(saved: dict[str, Any], config: ml_collections.ConfigDict,
                    start_step: int) -> None:
    """Refuses to resume a run whose training would change underneath it.

    Raises:
      ConfigError: naming the first field that differs from the checkpoint's.
    """
    current = json.loads(json.dumps(config.to_dict()))  # tuples -> lists, as saved
    may_change = set(RESUME_MAY_CHANGE)
    if config.lr_schedule != "constant":
        may_change.discard("num_steps")  # it sets the schedule's length
    if not saved.get("ema_decay", 0.0) and not option(config, "ema_decay"):
        may_change.add("ema_start")  # no moving average on either side: it means nothing
    if registry.is_points(config.dataset):
        may_change.add("data_order")  # mixtures are drawn from the key, in no order
    try:
        check_same_run(saved, current, may_change, start_step, OPTIONAL_FIELDS,
                       subject="this config", new_workdir="a new --workdir")
        check_resume_step(start_step, config.num_steps, config.steps_per_dispatch,
                          new_workdir="a new --workdir")
    except FitError as e:
        raise ConfigError(str(e)) from e


def validate_config(config: ml_collections.ConfigDict) -> None:
    """Checks the config before any data are read or anything is compiled.

    This layer checks what only the config has (the model and dataset names,
    the optimizer's fields) and what spans fields; every other value is
    checked by the constructor that owns it (:class:`FitOptions`, the loss
    pair, the modules, :class:`GANRecipe`, the module contract), which this
    builds once on a stand-in example shape.

    Raises:
      ConfigError: naming the first bad field and what would fix it.
    """
    if not isinstance(config, ml_collections.ConfigDict):
        raise ConfigError(f"a config is an ml_collections.ConfigDict, not "
                          f"{type(config).__name__}; make get_config() return one")
    try:
        _validate(config)
    except (AttributeError, KeyError) as e:  # ml_collections' word for a missing field
        field = str(e.args[0] if e.args else e).strip("\"' ")
        raise ConfigError(f"the config has no field {field!r}, which every config needs; "
                          "start from a shipped one (experiments/configs/)") from e


def _validate(config: ml_collections.ConfigDict) -> None:
    def fail(message):
        raise ConfigError(message)

    dataset = config.dataset
    if not registry.is_known(dataset):
        fail(registry.unknown_dataset_message(dataset))
    if config.model not in MODELS:
        fail(f"unknown model {config.model!r}; available: {', '.join(MODELS)}")
    points = registry.is_points(dataset)
    if points and config.model != "mlp":
        fail(f"dataset {dataset!r} is 2D points; it needs model='mlp', not {config.model!r}")
    if registry.is_unpaired(dataset) != (config.model == "cyclegan"):
        fail(f"dataset {dataset!r} holds two unpaired domains, which model='cyclegan' "
             "translates" if registry.is_unpaired(dataset) else
             f"model='cyclegan' translates between two unpaired domains and {dataset!r} is "
             "one dataset; name two, e.g. 'unpaired:digits,mnist5k'")
    if registry.is_paired(dataset) != (config.model == "pix2pix"):
        fail(f"dataset {dataset!r} holds paired images, which model='pix2pix' translates"
             if registry.is_paired(dataset) else
             f"model='pix2pix' translates paired images and {dataset!r} is not paired; use "
             "pairs:PATH, mnist5k_completion or mnist5k_edges")
    translation = config.model in TRANSLATION_MODELS
    if translation and option(config, "conditioning") != "none":
        fail(f"model={config.model!r} is conditioned on its input image; set "
             "conditioning='none'")
    if translation and option(config, "augment") != "none":
        fail(f"config.augment is not built for model={config.model!r} (a pix2pix "
             "discriminator sees each image beside its input); set augment='none'")
    semantic_weight = option(config, "semantic_weight")
    if semantic_weight and config.model != "cyclegan":
        fail(f"config.semantic_weight={semantic_weight!r} steers a CycleGAN's translations and "
             f"model={config.model!r}; set semantic_weight=0")
    if semantic_weight and not option(config, "classifier_steps"):
        fail(f"config.semantic_weight={semantic_weight!r} needs classifier_steps > 0: its "
             "guides train that many steps")
    if config.model == "cyclegan" and (config.d_penalty != "none" or config.n_disc != 1):
        fail("model='cyclegan' updates its discriminators once a step with no penalty; set "
             "d_penalty='none' and n_disc=1")
    if config.model == "cyclegan" and option(config, "ema_decay"):
        fail(f"config.ema_decay={option(config, 'ema_decay')!r} averages a generator, and "
             "model='cyclegan' keeps no average of its two; set ema_decay=0")
    if points and option(config, "augment") != "none":
        fail(f"config.augment={option(config, 'augment')!r} transforms images, and "
             f"{dataset!r} is 2D points; set augment='none'")
    if option(config, "augment_target") and option(config, "augment") == "none":
        fail(f"config.augment_target={option(config, 'augment_target')!r} steers augmentation, "
             "and config.augment is 'none'; name the operations, e.g. "
             "augment='translation,cutout'")
    native_size, data_side = option(config, "g_native_size"), registry.NATIVE_SIDES.get(dataset)
    if native_size and config.model != "dcgan":
        fail(f"config.g_native_size={native_size!r} is an option of the DCGAN generator and "
             f"model={config.model!r}; set g_native_size=0")
    if is_positive_int(native_size) and data_side and native_size < data_side:
        fail(f"config.g_native_size={native_size!r} would blur {dataset!r}, whose images are "
             f"drawn at {data_side}x{data_side}; set g_native_size=0")
    if option(config, "body_size") and config.model != "dcgan":
        fail(f"config.body_size={option(config, 'body_size')!r} is an option of the DCGAN "
             f"networks and model={config.model!r}; set body_size=0")
    pack = option(config, "d_pack")
    if not is_positive_int(pack):
        fail(f"config.d_pack must be a positive integer (1: no packing), got {pack!r}")
    if pack > 1 and config.model != "dcgan":
        fail(f"config.d_pack={pack!r} packs the DCGAN discriminator's inputs and "
             f"model={config.model!r}; set d_pack=1")
    if is_positive_int(config.batch_size) and pack > config.batch_size:
        fail(f"config.d_pack={pack} packs each example with the {pack - 1} after it, and a "
             f"batch holds {config.batch_size}; set d_pack <= batch_size")
    if pack > 1 and config.d_penalty != "none":
        fail(f"config.d_pack={pack} scores several examples per logit and "
             f"d_penalty={config.d_penalty!r} scores each example's own gradient; set "
             "d_pack=1 or d_penalty='none'")
    if not points and not is_positive_int(config.image_size):
        fail(f"config.image_size must be a positive integer, got {config.image_size!r}")
    fit_options(config)  # the run's options check themselves
    if config.d_penalty not in ("none", *penalties.PENALTIES):
        fail(f"unknown d_penalty {config.d_penalty!r}; available: none, "
             f"{', '.join(penalties.PENALTIES)}")
    conditioning = option(config, "conditioning")
    if conditioning not in ("none", *CONDITIONINGS):
        fail(f"config.conditioning must be one of none, {', '.join(CONDITIONINGS)}, got "
             f"{conditioning!r}")
    per_channel = option(config, "per_channel_conditions")
    if not isinstance(per_channel, bool):
        fail(f"config.per_channel_conditions must be True or False, got {per_channel!r}")
    if per_channel and not registry.is_stacked(dataset):
        fail(f"config.per_channel_conditions=True conditions on each channel's class of a "
             f"stacked dataset ({', '.join(registry.STACKED)}), and {dataset!r} is not one; "
             "set per_channel_conditions=False")
    if per_channel and conditioning == "none":
        fail("config.per_channel_conditions=True gives the networks each channel's class on "
             "its own, and conditioning='none' gives them none; set conditioning='concat' or "
             "'projection'")
    class_weight = option(config, "class_loss_weight")
    if not isinstance(class_weight, int | float) or isinstance(class_weight, bool) or \
            not class_weight >= 0 or not math.isfinite(class_weight):
        fail(f"config.class_loss_weight must be a finite number >= 0 (0: no class head), got "
             f"{class_weight!r}")
    if class_weight and (config.model != "dcgan" or conditioning == "none" or per_channel
                         or pack > 1):
        fail(f"config.class_loss_weight={class_weight!r} trains a class head on the DCGAN "
             "discriminator of a conditional GAN (conditioning 'concat' or 'projection', "
             "d_pack=1, per_channel_conditions=False); set class_loss_weight=0")
    clusters = option(config, "clusters")
    if clusters != 0 and (not is_positive_int(clusters) or clusters < 2):
        fail(f"config.clusters must be 0 (none) or an integer >= 2, got {clusters!r}")
    if clusters and conditioning == "none":
        fail(f"config.clusters={clusters} conditions the GAN on clusters of its images, which "
             "the networks take as they take classes; set conditioning='concat' or "
             "'projection'")
    if option(config, "cluster_features") not in clusters_lib.CLUSTER_FEATURES:
        fail(f"config.cluster_features must be one of {', '.join(clusters_lib.CLUSTER_FEATURES)}"
             f", got {option(config, 'cluster_features')!r}")
    if option(config, "truncation") and translation:
        fail(f"config.truncation={option(config, 'truncation')!r}: {NO_LATENTS}")
    if clusters and (translation or points):
        fail(f"config.clusters={clusters} clusters a dataset of images, and {dataset!r} with "
             f"model={config.model!r} is not one; set clusters=0")
    if option(config, "data_order") not in SHUFFLES:
        fail(f"config.data_order must be one of {', '.join(SHUFFLES)}, got "
             f"{option(config, 'data_order')!r}")
    if option(config, "conv_impl") not in CONV_IMPLS:
        fail(f"config.conv_impl must be one of {', '.join(CONV_IMPLS)}, got "
             f"{option(config, 'conv_impl')!r}")
    if option(config, "compute_dtype") not in COMPUTE_DTYPES:
        fail(f"config.compute_dtype must be one of {', '.join(COMPUTE_DTYPES)}, got "
             f"{option(config, 'compute_dtype')!r}")
    if config.lr_schedule not in LR_SCHEDULES:
        fail(f"unknown lr_schedule {config.lr_schedule!r}; available: {', '.join(LR_SCHEDULES)}")
    for name in ("g_learning_rate", "d_learning_rate"):
        if (not isinstance(config[name], int | float) or not config[name] > 0
                or not math.isfinite(config[name])):
            fail(f"config.{name} must be a positive number, got {config[name]!r}")
    for name in ("adam_b1", "adam_b2"):
        if not isinstance(config[name], int | float) or not 0 <= config[name] < 1:
            fail(f"config.{name} must be in [0, 1), got {config[name]!r}")
    # The constructors, on a stand-in for the data (one channel, ten classes).
    shape = (2,) if points else (config.image_size, config.image_size, 1)
    classes = 0 if conditioning == "none" else clusters or 10
    channel_classes = (classes, 3) if per_channel else ()
    classes = classes ** 3 if per_channel else classes
    recipe = build_recipe(config, shape, classes,
                          label_frequencies=(1 / classes,) * classes if clusters else (),
                          per_channel=channel_classes)
    if translation:  # sizes the modules check only when called
        side, least = 2 ** option(config, "unet_depth"), 3 * 2 ** option(config, "patch_layers")
        if config.image_size % side:
            fail(f"config.image_size={config.image_size} does not halve "
                 f"unet_depth={option(config, 'unet_depth')} times; use a multiple of {side} "
                 "or a lower unet_depth")
        if config.image_size < least:
            fail(f"config.patch_layers={option(config, 'patch_layers')} needs images of at least "
                 f"{least}x{least}; lower patch_layers or raise image_size")
    if getattr(recipe, "penalty", None) is not None:  # the one contract rule a config breaks
        try:
            check_modules(recipe, shape)
        except ModuleContractError as e:
            fail(f"config.d_penalty={config.d_penalty!r} with "
                 f"d_normalization={option(config, 'd_normalization')!r}: {e}")


@contextlib.contextmanager
def _built_from(**fields: str):
    """Turns a constructor's ``ValueError`` into a :class:`ConfigError` naming
    the config fields (keys) whose argument names (values) the message names,
    or all of them."""
    try:
        yield
    except ValueError as e:
        named = [f for f, arg in fields.items() if re.search(rf"\b{arg}\b", str(e))]
        raise ConfigError(f"{', '.join('config.' + f for f in named or fields)}: {e}") from e


def seed_batching(config: ml_collections.ConfigDict) -> str:
    """``vmap`` or ``map``: how ``config``'s seeds share the train program
    (``auto`` maps the DCGAN on the CPU; see :mod:`jaxgan.programs`)."""
    return resolve_seed_batching(option(config, "seed_batching"),
                                 config.model in ("dcgan", *TRANSLATION_MODELS))


def fit_options(config: ml_collections.ConfigDict) -> FitOptions:
    """The :class:`FitOptions` of ``config``.

    Raises:
      ConfigError: a bad option, in one line.
    """
    values = {name: option(config, name) if name in OPTIONAL_FIELDS else config[name]
              for name in FitOptions.__dataclass_fields__}
    try:
        check_options(values, prefix="config.")  # the message names the config's fields
    except FitError as e:
        raise ConfigError(str(e)) from e
    return FitOptions(**values)


def build_source(config: ml_collections.ConfigDict, progress=None):
    """The dataset named by ``config.dataset`` (see :mod:`jaxgan.data.registry`).

    Raises:
      ConfigError: the dataset cannot be read (missing file, tfds dataset not
        prepared, ...), with how to fix it.
    """
    try:
        source = registry.load_dataset(config.dataset, config.image_size, config.data_dir,
                                       option(config, "download"), shuffle_seed=config.seed,
                                       progress=progress)
    except DataError as e:
        raise ConfigError(str(e)) from e
    if isinstance(source, ArraySource | PairedSource):
        source = dataclasses.replace(source, shuffle=option(config, "data_order"))
    elif isinstance(source, UnpairedSource):  # each domain in its own order
        source = dataclasses.replace(source, **{
            name: dataclasses.replace(getattr(source, name), shuffle=option(config, "data_order"))
            for name in ("domain_a", "domain_b")})
    elif isinstance(source, StackedSource):   # its channels read the base's arrays
        source = dataclasses.replace(source, base=dataclasses.replace(
            source.base, shuffle=option(config, "data_order")))
    return source


def num_classes(config: ml_collections.ConfigDict, source) -> int:
    """Classes the GAN is conditioned on: 0 unless ``config.conditioning`` asks.

    A mixture's classes are its modes; an image dataset's, its labels, or the
    clusters of its images that :func:`build_source` found (``config.clusters``).

    Raises:
      ConfigError: conditioning asked for on a dataset without labels.
    """
    if option(config, "conditioning") == "none":
        return 0
    classes = getattr(source, "num_conditions", source.num_classes)
    if not classes:
        raise ConfigError(f"conditioning={option(config, 'conditioning')!r} needs class "
                          f"labels, and {config.dataset!r} has none; use an unconditional "
                          "config (conditioning='none') or a labelled dataset")
    return classes


def build_recipe(config: ml_collections.ConfigDict, example_shape,
                 classes: int = 0, input_channels: int = 0,
                 guides: tuple[Callable, Callable] | None = None,
                 label_frequencies: tuple[float, ...] = (),
                 per_channel: tuple[int, int] = ()
                 ) -> GANRecipe | CycleGANRecipe:
    """The GAN that ``config`` describes, for examples of ``example_shape``.

    ``classes`` > 0 makes it class-conditional (see :func:`num_classes`);
    ``input_channels`` are a pix2pix or cyclegan model's inputs' (0: as the
    examples'); ``label_frequencies``: a self-conditioned GAN's clusters'
    shares of the data (``config.clusters``; :mod:`jaxgan.data.clusters`);
    ``guides``: a cyclegan's semantic guides where
    ``semantic_weight`` > 0 (:func:`jaxgan.cyclegan.fit_guides`; :func:`build`
    trains them); ``per_channel``: ``(classes, channels)`` where the
    ``classes`` are tuples of a stacked dataset's channels' classes
    (``classes ** channels`` of them) that both networks take channel by
    channel (``config.per_channel_conditions``;
    :class:`jaxgan.models.conditioning.PerChannelConditions`).

    Raises:
      ConfigError: a constructor refused a value, naming the config's field.
    """
    with _built_from(loss="loss", real_label="real_label"):
        pair = losses.get_loss_pair(config.loss, config.real_label)
    conditioning = option(config, "conditioning")
    # The modules' own classes: with per_channel, each channel's one-hot side by side.
    module_classes = classes
    if per_channel:
        if classes != per_channel[0] ** per_channel[1]:
            raise ValueError(f"per_channel={per_channel} makes {per_channel[0]} ** "
                             f"{per_channel[1]} tuples of classes, and classes={classes}")
        module_classes = per_channel[0] * per_channel[1]
    d_conditioning = {"conditioning": conditioning} if classes else {}
    # Under a compute dtype the modules' own layers follow it too (GANRecipe.compute_dtype).
    dtype = None if option(config, "compute_dtype") == "float32" else jnp.dtype(
        option(config, "compute_dtype"))
    translation = {}
    if config.model == "cyclegan":
        return _cyclegan(config, example_shape, input_channels, pair, dtype, guides)
    if config.model == "pix2pix":
        generator = _unet(config, example_shape[-1], dtype)
        discriminator = _patch_gan(config, dtype)
        with _built_from(adversarial_weight="weight"):
            g_loss = losses.scaled(pair.generator, option(config, "adversarial_weight"))
        pair = losses.LossPair(pair.discriminator, g_loss)
        translation = {"translation": True, "input_channels": input_channels,
                       "reconstruction_weight": option(config, "reconstruction_weight")}
    elif config.model == "dcgan":
        body = option(config, "body_size")
        with _built_from(image_size="resolution", g_width="width",
                         g_native_size="native_resolution", body_size="body_resolution"):
            generator = DCGANGenerator(resolution=example_shape[0], channels=example_shape[-1],
                                       width=config.g_width, num_classes=module_classes,
                                       dtype=dtype,
                                       impl=option(config, "conv_impl"),
                                       native_resolution=option(config, "g_native_size"),
                                       body_resolution=body)
        with _built_from(image_size="resolution", d_width="width",
                         d_normalization="normalization", body_size="body_resolution",
                         d_pack="pack"):
            discriminator = DCGANDiscriminator(
                resolution=example_shape[0], width=config.d_width,
                normalization=option(config, "d_normalization"), num_classes=module_classes,
                dtype=dtype, impl=option(config, "conv_impl"), body_resolution=body,
                pack=option(config, "d_pack"),
                class_head=bool(option(config, "class_loss_weight")), **d_conditioning)
    else:
        with _built_from(g_features="features"):
            generator = MLPGenerator(
                output_shape=tuple(example_shape), features=tuple(config.g_features),
                batch_norm=config.g_batch_norm,
                output_activation=None if len(example_shape) == 1 else "tanh",
                num_classes=module_classes, dtype=dtype)
        with _built_from(d_features="features"):
            discriminator = MLPDiscriminator(features=tuple(config.d_features),
                                             num_classes=module_classes, dtype=dtype,
                                             **d_conditioning)
    if per_channel:
        generator, discriminator = (PerChannelConditions(module, *per_channel)
                                    for module in (generator, discriminator))
    controller = None
    if option(config, "augment_target"):  # ADA: p steered towards the target
        with _built_from(augment_target="target", augment_p_step="step"):
            controller = AdaptiveProbability(option(config, "augment_target"),
                                             option(config, "augment_p_step"))
    if option(config, "augment") != "none":
        with _built_from(augment="policy"):
            discriminator = DiffAugment(discriminator, policy=option(config, "augment"),
                                        adaptive=controller is not None)
    with _built_from(latent_dim="latent_dim", n_disc="n_disc", d_penalty_weight="penalty_weight",
                     ema_decay="ema_decay", ema_start="ema_start",
                     reconstruction_weight="reconstruction_weight",
                     class_loss_weight="class_loss_weight"):
        recipe = GANRecipe(
            generator=generator,
            discriminator=discriminator,
            latent_dim=config.latent_dim,
            d_loss=pair.discriminator,
            g_loss=pair.generator,
            n_disc=config.n_disc,
            penalty=None if config.d_penalty == "none" else penalties.PENALTIES[config.d_penalty],
            penalty_weight=config.d_penalty_weight,
            num_classes=classes,
            label_frequencies=tuple(label_frequencies),
            ema_decay=option(config, "ema_decay"),
            ema_start=option(config, "ema_start"),
            d_stats_update=controller,
            compute_dtype=dtype,
            class_loss_weight=option(config, "class_loss_weight"),
            **translation,
        )
    # The optimizers once n_disc is known good: the discriminator takes n_disc
    # optimizer steps per train step (a schedule's length counts them).
    return dataclasses.replace(
        recipe, g_optimizer=_adam(config, config.g_learning_rate, config.num_steps),
        d_optimizer=_adam(config, config.d_learning_rate, config.num_steps * config.n_disc))


def _unet(config: ml_collections.ConfigDict, channels: int, dtype) -> UNetGenerator:
    """The U-Net generator of a translation model (pix2pix, cyclegan)."""
    with _built_from(g_width="width", unet_depth="depth", g_dropout="dropout"):
        return UNetGenerator(channels=channels, width=config.g_width,
                             depth=option(config, "unet_depth"),
                             dropout=option(config, "g_dropout"), dtype=dtype,
                             impl=option(config, "conv_impl"))


def _patch_gan(config: ml_collections.ConfigDict, dtype) -> PatchDiscriminator:
    """The PatchGAN discriminator of a translation model (pix2pix, cyclegan)."""
    with _built_from(d_width="width", patch_layers="layers", d_normalization="normalization"):
        return PatchDiscriminator(
            width=config.d_width, layers=option(config, "patch_layers"),
            normalization=option(config, "d_normalization"), dtype=dtype,
            impl=option(config, "conv_impl"))


def _guide_not_built(images):
    raise ConfigError("semantic_weight > 0 needs the domains' guides: build the run with "
                      "jaxgan.config.build, or pass build_recipe guides from "
                      "jaxgan.cyclegan.fit_guides")


def _cyclegan(config: ml_collections.ConfigDict, example_shape, input_channels: int,
              pair: losses.LossPair, dtype, guides) -> CycleGANRecipe:
    """The CycleGAN of ``config``: U-Nets both ways and a PatchGAN per domain,
    built from the pix2pix model's fields; the least-squares loss by default
    (the generators' term is then CycleGAN's, :func:`jaxgan.cyclegan.generator_loss`)."""
    generators = [_unet(config, example_shape[-1], dtype),
                  _unet(config, input_channels or example_shape[-1], dtype)]
    discriminators = [_patch_gan(config, dtype) for _ in range(2)]
    g_loss = cyclegan_generator_loss if config.loss == "least_squares" else pair.generator
    if guides is None:  # checking the config, before there are data to train guides on
        guides = (_guide_not_built, _guide_not_built)
    with _built_from(cycle_weight="cycle_weight", identity_weight="identity_weight",
                     cycle_b_fraction="cycle_b_fraction",
                     history_size="history_size", semantic_weight="semantic_weight",
                     semantic_reader="semantic_reader"):
        return CycleGANRecipe(
            *generators, *discriminators, input_channels=input_channels,
            cycle_weight=option(config, "cycle_weight"),
            identity_weight=option(config, "identity_weight"),
            cycle_b_fraction=option(config, "cycle_b_fraction"),
            history_size=option(config, "history_size"),
            semantic_weight=option(config, "semantic_weight"),
            semantic_reader=option(config, "semantic_reader"), guide_a=guides[0],
            guide_b=guides[1], d_loss=pair.discriminator,
            g_loss=g_loss, compute_dtype=dtype,
            g_optimizer=_adam(config, config.g_learning_rate, config.num_steps),
            d_optimizer=_adam(config, config.d_learning_rate, config.num_steps))


def _adam(config: ml_collections.ConfigDict, learning_rate: float,
          num_updates: int) -> optax.GradientTransformation:
    if config.lr_schedule == "cosine":
        # Decaying to zero takes out the jitter that a constant step size
        # leaves in the generator's output near equilibrium.
        learning_rate = optax.cosine_decay_schedule(learning_rate, num_updates)
    return optax.adam(learning_rate, b1=config.adam_b1, b2=config.adam_b2)


def _self_conditioned(config: ml_collections.ConfigDict, source, log
                      ) -> tuple[ArraySource | StackedSource, tuple[float, ...]]:
    """``source`` conditioned on ``config.clusters`` k-means clusters of its
    images (of a stacked dataset's digits, each channel's cluster a digit of
    the condition), and the conditions' shares of the data."""
    stacked = isinstance(source, StackedSource)  # each channel's digit is clustered
    images = source.base if stacked else source
    if not isinstance(images, ArraySource):
        raise ConfigError(f"config.clusters={config.clusters} clusters images held in memory, "
                          f"and {config.dataset!r} is not; set clusters=0")
    began = time.perf_counter()
    try:
        images = clusters_lib.with_clusters(images, config.clusters, CLUSTER_SEED,
                                            option(config, "cluster_features"))
    except ValueError as e:
        raise ConfigError(f"config.clusters: {e}") from e
    channels = source.channels if stacked else 1
    shares = clusters_lib.condition_frequencies(images.conditions, config.clusters, channels)
    if log:
        on = clusters_lib.CLUSTER_FEATURES[option(config, "cluster_features")]
        log(f"self-conditioning: {config.clusters} k-means clusters of {images.num_examples} "
            f"{images.name} images, on {on}"
            + (f", {len(shares)} triples of them, one per channel" if stacked else "")
            + f"; {100 * min(shares):.3g}% to {100 * max(shares):.3g}% of the data each "
            f"({time.perf_counter() - began:.0f} s)")
    return (dataclasses.replace(source, base=images) if stacked else images), shares


class Built(NamedTuple):
    """What :func:`build` makes of a config: :func:`jaxgan.fit`'s arguments."""

    recipe: GANRecipe | CycleGANRecipe
    source: Any
    options: FitOptions


def build(config: ml_collections.ConfigDict, progress=None,
          log: Callable[[str], None] | None = None) -> Built:
    """Validates ``config`` and builds ``(recipe, source, options)``, once.

    ``progress``: a ``tqdm``-like factory for long data reads; ``log``: called
    with a line on other long work (a CycleGAN's semantic guides, trained here,
    or loaded from ``classifier_dir`` when the config names one).

    Raises:
      ConfigError: a bad config or data, before anything is compiled or written.
    """
    validate_config(config)
    source = build_source(config, progress=progress)
    guides = None
    if config.model == "cyclegan" and option(config, "semantic_weight"):
        try:
            guides = fit_guides(source, option(config, "classifier_steps"),
                                cache_dir=option(config, "classifier_dir"), log=log)
        except ValueError as e:
            raise ConfigError(str(e)) from e
    frequencies = ()
    if option(config, "clusters"):
        source, frequencies = _self_conditioned(config, source, log)
    # _validate allowed it on stacked datasets only.
    per_channel = ((source.base.num_conditions, source.channels)
                   if option(config, "per_channel_conditions") else ())
    recipe = build_recipe(config, source.example_shape, num_classes(config, source),
                          getattr(source, "input_shape", (0,))[-1], guides, frequencies,
                          per_channel=per_channel)
    options = fit_options(config)
    # The config's own rule for "auto" (the DCGAN on the CPU), resolved here so
    # that fit need not look inside the modules.
    options = FitOptions(**{**options.as_dict(), "seed_batching": seed_batching(config)})
    return Built(recipe, source, options)


__all__ = ["CLUSTER_SEED", "COMPUTE_DTYPES", "CONV_IMPLS", "LR_SCHEDULES", "MODELS",
           "OPTIONAL_FIELDS", "RESUME_MAY_CHANGE", "TRANSLATION_MODELS", "Built", "ConfigError",
           "build", "build_recipe", "build_source", "check_resumable", "fit_options",
           "num_classes", "option", "seed_batching", "validate_config"]
