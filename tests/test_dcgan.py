"""DCGAN models and their layers: the reference configuration's exact parameter
counts, output shapes at every resolution, the DCGAN layer rules, and the
upsampling and convolution layers against PyTorch's definition and JAX's own
gradients."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax import lax
from jax.test_util import check_grads

from jaxgan.models import DCGANDiscriminator, DCGANGenerator, layers
from jaxgan.models.layers import (
    BACKEND_IMPLS,
    IMPLS,
    _dilated_conv,
    compiler_options,
    conv2d,
    resolve_impl,
    upsample_conv,
)


def param_count(variables):
    return sum(math.prod(x.shape) for x in jax.tree.leaves(variables["params"]))


def init_shapes(module, x):
    return jax.eval_shape(lambda: module.init(jax.random.PRNGKey(0), x, train=False))


def test_reference_configuration_matches_the_pytorch_example_exactly():
    generator = DCGANGenerator(resolution=64, channels=3, width=64)
    discriminator = DCGANDiscriminator(resolution=64, width=64)
    g_vars = init_shapes(generator, jnp.zeros((2, 100)))
    d_vars = init_shapes(discriminator, jnp.zeros((2, 64, 64, 3)))
    assert param_count(g_vars) == 3_576_704
    assert param_count(d_vars) == 2_765_568
    # generator 100 -> 512 -> 256 -> 128 -> 64 -> 3 with 4x4 kernels, no biases
    names = ["project", "up_0", "up_1", "up_2", "up_3"]
    kernels = [g_vars["params"][name]["kernel"].shape for name in names]
    assert kernels == [(4, 4, 100, 512), (4, 4, 512, 256), (4, 4, 256, 128),
                       (4, 4, 128, 64), (4, 4, 64, 3)]
    assert all("bias" not in layer for layer in g_vars["params"].values()
               if "kernel" in layer)
    # discriminator 3 -> 64 -> 128 -> 256 -> 512 -> 1; BatchNorm on all blocks but the first
    names = ["down_0", "down_1", "down_2", "down_3", "logit"]
    kernels = [d_vars["params"][name]["kernel"].shape for name in names]
    assert kernels == [(4, 4, 3, 64), (4, 4, 64, 128), (4, 4, 128, 256),
                       (4, 4, 256, 512), (4, 4, 512, 1)]
    assert sorted(k for k in d_vars["batch_stats"]) == ["BatchNorm_0", "BatchNorm_1",
                                                        "BatchNorm_2"]
    assert d_vars["batch_stats"]["BatchNorm_0"]["mean"].shape == (128,)


@pytest.mark.parametrize("resolution", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_output_shapes(resolution, channels):
    generator = DCGANGenerator(resolution=resolution, channels=channels, width=8)
    discriminator = DCGANDiscriminator(resolution=resolution, width=8)
    z = jnp.zeros((5, 16))
    g_vars = init_shapes(generator, z)
    images = jax.eval_shape(lambda: generator.apply(
        jax.tree.map(jnp.zeros_like, g_vars), z, train=False))
    assert images.shape == (5, resolution, resolution, channels)
    x = jnp.zeros((5, resolution, resolution, channels))
    d_vars = init_shapes(discriminator, x)
    logits = jax.eval_shape(lambda: discriminator.apply(
        jax.tree.map(jnp.zeros_like, d_vars), x, train=False))
    assert logits.shape == (5,)


def test_generator_ends_in_tanh_and_critic_variant_has_no_batch_norm():
    generator = DCGANGenerator(resolution=28, channels=1, width=8)
    variables = generator.init(jax.random.PRNGKey(0), jnp.zeros((4, 16)), train=False)
    big = jax.tree.map(lambda x: x * 100.0, variables)  # saturate the output
    images = generator.apply(big, jax.random.normal(jax.random.PRNGKey(1), (4, 16)), train=False)
    assert float(jnp.max(jnp.abs(images))) <= 1.0
    critic = DCGANDiscriminator(resolution=28, width=8, normalization="none")
    assert "batch_stats" not in init_shapes(critic, jnp.zeros((2, 28, 28, 1)))


@pytest.mark.parametrize("normalization", ["layer", "instance", "none"])
def test_critic_normalizations_score_each_example_on_its_own(normalization):
    critic = DCGANDiscriminator(resolution=32, width=8, normalization=normalization)
    x = jax.random.normal(jax.random.PRNGKey(0), (4, 32, 32, 1))
    variables = critic.init(jax.random.PRNGKey(1), x, train=False)
    assert "batch_stats" not in variables
    together = critic.apply(variables, x, train=True)
    alone = jnp.concatenate([critic.apply(variables, x[i:i + 1], train=True) for i in range(4)])
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-5)
    layers = {"layer": "LayerNorm", "instance": "GroupNorm", "none": None}[normalization]
    names = [name for name in variables["params"] if not name.startswith(("down", "logit"))]
    assert names == ([f"{layers}_{i}" for i in range(2)] if layers else [])
    # BatchNorm, by contrast, mixes the batch: the same check fails.
    batch = DCGANDiscriminator(resolution=32, width=8)
    bn_vars = batch.init(jax.random.PRNGKey(1), x, train=False)
    mixed = batch.apply(bn_vars, x, train=True, mutable=["batch_stats"])[0]
    single = batch.apply(bn_vars, x[:1], train=True, mutable=["batch_stats"])[0]
    assert not np.allclose(mixed[:1], single, atol=1e-3)


def test_spectral_normalization_divides_each_kernel_by_its_largest_singular_value():
    critic = DCGANDiscriminator(resolution=28, width=8, normalization="spectral",
                                num_classes=10, conditioning="projection")
    x = jax.random.normal(jax.random.PRNGKey(0), (4, 28, 28, 1))
    labels = jnp.arange(4)
    variables = critic.init(jax.random.PRNGKey(1), x, labels, train=False)
    # No normalisation layers: the convolutions and the embedding are reparametrised.
    assert sorted(variables["params"]) == ["down_0", "down_1", "input_bias", "logit",
                                           "projection"]
    # Power iteration: each training call takes one step and stores its estimate.
    for _ in range(30):
        _, updates = critic.apply(variables, x, labels, train=True, mutable=["batch_stats"])
        variables = {**variables, **updates}
    stats = {key: value for module in variables["batch_stats"].values()
             for key, value in module.items()}
    for name, kernel in (("down_1/kernel", variables["params"]["down_1"]["kernel"]),
                         ("projection/embedding", variables["params"]["projection"]["embedding"])):
        matrix = np.asarray(kernel).reshape(-1, kernel.shape[-1])
        top = np.linalg.svd(matrix, compute_uv=False)[0]
        np.testing.assert_allclose(stats[f"{name}/sigma"], top, rtol=1e-3)
    # The logit is linear in the normalised weights: scaling every kernel
    # leaves it unchanged, which BatchNorm-free, unnormalised networks are not.
    scaled = {**variables, "params": jax.tree.map(lambda p: 3.0 * p, variables["params"])}
    scaled["params"]["input_bias"] = variables["params"]["input_bias"]
    np.testing.assert_allclose(critic.apply(scaled, x, labels, train=False),
                               critic.apply(variables, x, labels, train=False), rtol=1e-4,
                               atol=1e-5)
    # Each example is scored on its own, so penalties may join it.
    together = critic.apply(variables, x, labels, train=False)
    alone = jnp.concatenate([critic.apply(variables, x[i:i + 1], labels[i:i + 1], train=False)
                             for i in range(4)])
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-5)


def test_weights_are_initialised_from_n_0_002():
    variables = DCGANGenerator(resolution=64, width=64).init(
        jax.random.PRNGKey(0), jnp.zeros((1, 100)), train=False)
    kernel = variables["params"]["up_1"]["kernel"]
    assert abs(float(kernel.std()) - 0.02) < 0.001 and abs(float(kernel.mean())) < 0.001
    scale = variables["params"]["BatchNorm_0"]["scale"]
    assert abs(float(scale.mean()) - 1.0) < 0.01


def test_wrong_image_size_is_a_clear_error():
    with pytest.raises(ValueError, match="resolution must be one of"):
        init_shapes(DCGANGenerator(resolution=48), jnp.zeros((1, 8)))
    with pytest.raises(ValueError, match=r"resolution=32\) got images of shape \(28, 28, 1\)"):
        init_shapes(DCGANDiscriminator(resolution=32), jnp.zeros((1, 28, 28, 1)))


def test_native_detail_draws_in_the_subspace_of_images_resized_up_like_the_digits():
    """With ``native_resolution=8`` every output is an 8x8 image resized to 32x32
    bilinearly, as the bundled digits are: it lies in the span of the resized
    8x8 basis images (least-squares residual ~0), where the plain generator's
    output, and random images, do not. Parameters are unchanged."""
    from jaxgan.data import digits
    from jaxgan.data.arrays import resize_images

    basis = resize_images(np.eye(64, dtype=np.float32).reshape(64, 8, 8, 1), 32)
    basis = basis.reshape(64, 1024).T                                   # [1024, 64]

    def residual(images):
        flat = np.asarray(images, np.float64).reshape(len(images), 1024).T
        fit = basis @ np.linalg.lstsq(basis, flat, rcond=None)[0]
        return np.abs(fit - flat).max() / np.abs(flat).max()

    z = jax.random.normal(jax.random.PRNGKey(0), (4, 16))
    native = DCGANGenerator(resolution=32, channels=1, width=8, native_resolution=8)
    plain = DCGANGenerator(resolution=32, channels=1, width=8)
    variables = plain.init(jax.random.PRNGKey(1), z, train=False)
    assert (jax.tree.map(jnp.shape, native.init(jax.random.PRNGKey(1), z, train=False))
            == jax.tree.map(jnp.shape, variables))
    assert residual(digits(32).images[:16]) < 1e-5          # the data: in the span
    assert residual(native.apply(variables, z, train=False)) < 1e-5
    assert residual(plain.apply(variables, z, train=False)) > 0.05
    assert residual(jax.random.uniform(jax.random.PRNGKey(2), (4, 32, 32, 1))) > 0.05
    with pytest.raises(ValueError, match="native_resolution must be 0"):
        init_shapes(DCGANGenerator(resolution=28, native_resolution=8), jnp.zeros((1, 8)))


@pytest.mark.parametrize("conditioning", ["concat", "projection"])
def test_a_body_resolution_runs_the_larger_networks_on_the_centre_of_the_image(conditioning):
    """``body_resolution=32`` at 28x28: the generator is the 32x32 one, its
    output cropped to the centre 28x28; the discriminator is the 32x32 one on
    the input padded with two zero pixels each side (a concat class's planes
    cover the padded image). Same parameters as the 32x32 networks."""
    z = jax.random.normal(jax.random.PRNGKey(0), (3, 16))
    labels = jnp.array([0, 4, 9])
    small = dict(width=8, num_classes=10)
    generator = DCGANGenerator(resolution=28, channels=1, body_resolution=32, **small)
    body_g = DCGANGenerator(resolution=32, channels=1, **small)
    g_vars = body_g.init(jax.random.PRNGKey(1), z, labels, train=False)
    images = generator.apply(g_vars, z, labels, train=False)
    assert images.shape == (3, 28, 28, 1)
    np.testing.assert_array_equal(images,
                                  body_g.apply(g_vars, z, labels, train=False)[:, 2:30, 2:30])

    small["conditioning"] = conditioning
    discriminator = DCGANDiscriminator(resolution=28, body_resolution=32, **small)
    body_d = DCGANDiscriminator(resolution=32, **small)
    d_vars = body_d.init(jax.random.PRNGKey(2), jnp.zeros((1, 32, 32, 1)), labels[:1],
                         train=False)
    assert (jax.tree.map(jnp.shape, discriminator.init(jax.random.PRNGKey(2), images, labels,
                                                        train=False))
            == jax.tree.map(jnp.shape, d_vars))
    x = jax.random.normal(jax.random.PRNGKey(3), (3, 28, 28, 1))
    logits = discriminator.apply(d_vars, x, labels, train=False)
    padded = jnp.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)))
    np.testing.assert_allclose(logits, body_d.apply(d_vars, padded, labels, train=False),
                               rtol=1e-5, atol=1e-9)
    # The image sits in the centre: placed in a corner, it scores otherwise.
    shifted = jnp.pad(x, ((0, 0), (0, 4), (0, 4), (0, 0)))
    assert not np.allclose(logits, body_d.apply(d_vars, shifted, labels, train=False),
                           rtol=1e-2, atol=0)
    for body in (28, 30, 65, 32.0, True):
        with pytest.raises(ValueError, match="body_resolution must be 0"):
            init_shapes(DCGANGenerator(resolution=28, body_resolution=body), jnp.zeros((1, 8)))
    with pytest.raises(ValueError, match="DCGANDiscriminator body_resolution must be 0"):
        init_shapes(DCGANDiscriminator(resolution=32, body_resolution=28),
                    jnp.zeros((1, 32, 32, 1)))


def test_a_packed_discriminator_scores_each_example_with_the_ones_after_it():
    """PacGAN's packing: example i's logit is the unpacked network's logit of
    example i's channels followed by those of i + 1 (mod the batch), with the
    same parameters; a concat class's planes travel with their example."""
    x = jax.random.normal(jax.random.PRNGKey(0), (4, 32, 32, 3))
    labels = jnp.array([1, 5, 5, 7])
    for num_classes, args in ((0, ()), (10, (labels,))):
        packed = DCGANDiscriminator(resolution=32, width=8, pack=2, num_classes=num_classes)
        variables = packed.init(jax.random.PRNGKey(1), x[:1], *(a[:1] for a in args),
                                train=False)
        # The first layer reads two examples' channels (and classes); the rest is unchanged.
        in_channels = 2 * (3 + num_classes)
        assert variables["params"]["down_0"]["kernel"].shape == (4, 4, in_channels, 8)
        logits = packed.apply(variables, x, *args, train=False)
        assert logits.shape == (4,)
        # By hand: the unpacked network on the pairs (0, 1), (1, 2), (2, 3), (3, 0).
        plain = DCGANDiscriminator(resolution=32, width=8)
        planes = x if not num_classes else jnp.concatenate(
            [x, jnp.broadcast_to(jax.nn.one_hot(labels, 10)[:, None, None], (4, 32, 32, 10))],
            axis=-1)
        pairs = jnp.concatenate([planes, planes[jnp.array([1, 2, 3, 0])]], axis=-1)
        np.testing.assert_allclose(logits, plain.apply(variables, pairs, train=False),
                                   rtol=1e-5, atol=1e-6)
    # Changing example 2 moves the logits of the tuples holding it (1 and 2) only.
    moved = packed.apply(variables, x.at[2].multiply(-1.0), labels, train=False)
    assert np.flatnonzero(~np.isclose(moved, logits, rtol=1e-5, atol=1e-6)).tolist() == [1, 2]
    for pack in (0, 2.0, True):
        with pytest.raises(ValueError, match="pack must be a positive integer"):
            init_shapes(DCGANDiscriminator(resolution=32, pack=pack), jnp.zeros((1, 32, 32, 1)))
    with pytest.raises(ValueError, match="a projection reads one class"):
        DCGANDiscriminator(resolution=32, pack=2, num_classes=10, conditioning="projection")


def test_the_module_contract_refuses_a_packed_discriminator_with_a_penalty():
    """Built with the Python API, past the config's check: a penalty scores
    each example's own input gradient, which a packed logit does not have;
    seen through DiffAugment's wrapper too."""
    import jaxgan
    from jaxgan.augment import DiffAugment

    generator = DCGANGenerator(resolution=28, width=4, channels=1)
    for discriminator in (DCGANDiscriminator(resolution=28, width=4, normalization="none",
                                             pack=2),
                          DiffAugment(DCGANDiscriminator(resolution=28, width=4,
                                                         normalization="none", pack=3))):
        recipe = jaxgan.GANRecipe(generator=generator, discriminator=discriminator,
                                  latent_dim=8, penalty=jaxgan.penalties.r1_penalty)
        with pytest.raises(jaxgan.ModuleContractError, match="packs [23] examples per logit"):
            jaxgan.check_modules(recipe, (28, 28, 1))
        # Without the penalty the same networks keep the contract.
        jaxgan.check_modules(jaxgan.GANRecipe(generator=generator, discriminator=discriminator,
                                              latent_dim=8), (28, 28, 1))


def pytorch_conv_transpose(x, w):
    """PyTorch's ConvTranspose2d(k=4, s=2, p=1) by its definition, in float64 numpy:
    output pixel (2i + ky - 1, 2j + kx - 1) receives x[i, j] @ w[ky, kx]."""
    batch, height, width, _ = x.shape
    out = np.zeros((batch, 2 * height + 2, 2 * width + 2, w.shape[-1]))  # 1 extra each side
    for ky in range(4):
        for kx in range(4):
            out[:, ky:ky + 2 * height:2, kx:kx + 2 * width:2] += x @ w[ky, kx]
    return out[:, 1:-1, 1:-1]


# Each form of the transposed convolution (jaxgan.models.layers) is checked: a
# small map takes the dilated form, one whose output side is 16 or more the
# phase form, and an input side of 4 or 8 the matrix-product or the subpixel
# form.
UPSAMPLE_SHAPES = [(2, 3, 5, 4), (2, 8, 9, 4), (2, 4, 3, 4), (2, 8, 6, 4)]


@pytest.mark.parametrize("shape", UPSAMPLE_SHAPES)
@pytest.mark.parametrize("impl", IMPLS)
def test_upsample_conv_is_pytorchs_transposed_convolution(impl, shape):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype(np.float32)
    w = rng.normal(size=(4, 4, 4, 3)).astype(np.float32)
    got = np.asarray(upsample_conv(jnp.asarray(x), jnp.asarray(w), impl))
    assert got.shape == (2, 2 * shape[1], 2 * shape[2], 3)
    np.testing.assert_allclose(got, pytorch_conv_transpose(x.astype(np.float64), w),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", UPSAMPLE_SHAPES)
def test_upsample_conv_gradients_equal_xlas_own_to_second_order(shape):
    # impl="conv" writes its backward pass by hand; check both derivatives and
    # a gradient of a gradient (as an input-gradient penalty through a
    # generator would take) against XLA's own rules on the same function.
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    x = jax.random.normal(keys[0], shape)
    w = jax.random.normal(keys[1], (4, 4, 4, 3))

    def loss(impl):
        return lambda x, w: jnp.sum(jnp.sin(upsample_conv(x, w, impl)))

    for mine, theirs in zip(jax.grad(loss("conv"), (0, 1))(x, w),
                            jax.grad(loss("xla"), (0, 1))(x, w), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-4)

    def second_order(impl):
        grad_x = jax.grad(loss(impl))
        return jax.grad(lambda w: jnp.sum(grad_x(x, w) ** 2))(w)

    # At the larger shape, float32 rounding at the scale of the largest entry
    # (about 1,200 there; in float64 the two agree to 1e-13).
    reference = second_order("xla")
    atol = 1e-4 if shape == UPSAMPLE_SHAPES[0] else 1e-6 * float(jnp.abs(reference).max())
    np.testing.assert_allclose(second_order("conv"), reference, rtol=1e-4, atol=atol)

    def through_kernel_gradient(impl):  # d/d(x, w) of |dL/dw|^2
        grad_w = jax.grad(loss(impl), 1)
        return jax.grad(lambda x, w: jnp.sum(grad_w(x, w) ** 2), (0, 1))(x, w)

    for mine, theirs in zip(through_kernel_gradient("conv"), through_kernel_gradient("xla"),
                            strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-3)
    check_grads(lambda x, w: upsample_conv(x, w, "conv"), (x, w), order=1, modes=["rev"],
                atol=2e-2, rtol=2e-2)


@pytest.mark.parametrize("strides,padding,shape,kernel", [
    ((2, 2), ((1, 1), (1, 1)), (2, 8, 8, 3), (4, 4, 3, 5)),    # DCGAN downsampling
    # Its fast paths: the phase form of the input gradient with the kernel
    # gradient as matrix products (an image's few channels), and with the
    # kernel gradient as one convolution over the batch.
    ((2, 2), ((1, 1), (1, 1)), (2, 16, 16, 3), (4, 4, 3, 5)),
    ((2, 2), ((1, 1), (1, 1)), (8, 32, 32, 5), (4, 4, 5, 2)),
    ((2, 3), ((1, 0), (2, 1)), (2, 7, 9, 3), (3, 2, 3, 4)),    # uneven: rows left over
    ((1, 1), ((0, 0), (0, 0)), (2, 4, 4, 3), (4, 4, 3, 1)),    # the final logit
])
def test_conv2d_gradients_equal_jaxs_own(strides, padding, shape, kernel):
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    x, w = jax.random.normal(keys[0], shape), jax.random.normal(keys[1], kernel)

    def loss(conv):
        return lambda x, w: jnp.sum(jnp.sin(conv(x, w)))

    def reference(x, w):
        return lax.conv_general_dilated(x, w, strides, padding,
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))

    mine = jax.grad(loss(lambda x, w: conv2d(x, w, strides, padding)), (0, 1))(x, w)
    theirs = jax.grad(loss(reference), (0, 1))(x, w)
    for a, b in zip(mine, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    # and against finite differences
    check_grads(lambda x, w: conv2d(x, w, strides, padding), (x, w), order=1,
                              modes=["rev"], atol=2e-2, rtol=2e-2)


@pytest.mark.parametrize("x_shape,kernel_shape", [((2, 8, 8, 2), (4, 4, 2, 3)),
                                                   ((8, 32, 32, 5), (4, 4, 5, 2))])
def test_conv2d_is_twice_differentiable_for_input_gradient_penalties(x_shape, kernel_shape):
    x = jax.random.normal(jax.random.PRNGKey(0), x_shape)
    w = jax.random.normal(jax.random.PRNGKey(1), kernel_shape)

    def penalty(conv):
        def f(w):
            grad_x = jax.grad(lambda x: jnp.sum(jnp.tanh(conv(x, w))))(x)
            return jnp.sum(grad_x ** 2)
        return jax.grad(f)(w)

    reference = penalty(lambda x, w: lax.conv_general_dilated(
        x, w, (2, 2), ((1, 1), (1, 1)), dimension_numbers=("NHWC", "HWIO", "NHWC")))
    np.testing.assert_allclose(penalty(lambda x, w: conv2d(x, w, (2, 2), ((1, 1), (1, 1)))),
                               reference, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("strides,padding,lhs_dilation,rhs_dilation", [
    ((2, 1), ((2, 1), (0, 2)), (2, 1), (1, 2)),
    ((1, 2), ((0, 3), (1, 1)), (3, 2), (2, 1)),
])
def test_dilated_conv_derivatives_of_every_order_equal_jaxs(strides, padding, lhs_dilation,
                                                            rhs_dilation):
    # The backward pass calls the op again with dilations, so the general case
    # is what the first and second derivatives of the plain conv rest on.
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 6, 6, 2))
    w = jax.random.normal(jax.random.PRNGKey(1), (3, 3, 2, 3))

    def reference(x, w):
        return lax.conv_general_dilated(x, w, strides, padding, lhs_dilation=lhs_dilation,
                                        rhs_dilation=rhs_dilation,
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))

    def mine(x, w):
        return _dilated_conv(x, w, strides, padding, lhs_dilation, rhs_dilation)

    def second(conv):  # d/dx of the squared kernel gradient
        return jax.grad(lambda x: jnp.sum(jax.grad(
            lambda w: jnp.sum(jnp.tanh(conv(x, w))))(w) ** 2))(x)

    np.testing.assert_allclose(mine(x, w), reference(x, w), rtol=1e-5, atol=1e-5)
    for a, b in zip(jax.grad(lambda x, w: jnp.sum(jnp.sin(mine(x, w))), (0, 1))(x, w),
                    jax.grad(lambda x, w: jnp.sum(jnp.sin(reference(x, w))), (0, 1))(x, w),
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(second(mine), second(reference), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("impl", ["conv", "subpixel"])
def test_generator_implementations_agree_with_xlas_own(impl):
    # Outputs and parameter gradients through the BatchNorm layers, in train mode.
    z = jax.random.normal(jax.random.PRNGKey(0), (3, 16))
    fast = DCGANGenerator(resolution=32, channels=3, width=8, impl=impl)
    variables = fast.init(jax.random.PRNGKey(1), z, train=False)
    xla = DCGANGenerator(resolution=32, channels=3, width=8, impl="xla")

    def loss(module):
        def f(params):
            out, _ = module.apply({**variables, "params": params}, z, train=True,
                                  mutable=["batch_stats"])
            return jnp.sum(jnp.sin(3 * out)), out
        return jax.grad(f, has_aux=True)(variables["params"])

    (grads, out), (xla_grads, xla_out) = loss(fast), loss(xla)
    np.testing.assert_allclose(out, xla_out, atol=1e-5)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4),
                 grads, xla_grads)


def test_discriminator_implementations_agree_to_second_order():
    """The hand-written derivatives ("conv") against JAX's own ("xla"): logits,
    parameter gradients, and the parameter gradient of an R1-style input
    gradient penalty, through spectral norm's reparametrisation."""
    x = jax.random.normal(jax.random.PRNGKey(0), (3, 32, 32, 3))
    modules = {impl: DCGANDiscriminator(resolution=32, width=4, normalization="spectral",
                                        impl=impl) for impl in ("conv", "xla")}
    variables = modules["conv"].init(jax.random.PRNGKey(1), x, train=False)

    def run(module):
        def logits(params, x):
            return module.apply({**variables, "params": params}, x, train=False)

        def penalty(params):
            grad_x = jax.grad(lambda x: jnp.sum(logits(params, x)))(x)
            return jnp.sum(grad_x ** 2)

        value, grads = jax.value_and_grad(lambda p: jnp.sum(jnp.sin(logits(p, x))))(
            variables["params"])
        return logits(variables["params"], x), value, grads, jax.grad(penalty)(
            variables["params"])

    mine, theirs = run(modules["conv"]), run(modules["xla"])
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5),
                 mine, theirs)


@pytest.mark.parametrize("side", [4, 8])
def test_the_small_map_forms_are_as_accurate_as_the_dilated_form_in_bfloat16(side):
    # From a 4x4 map the transposed convolution is a matrix product whose
    # patches add where they overlap, from an 8x8 map four stride-1
    # convolutions (jaxgan.models.layers). In bfloat16 the patches add in
    # float32: added in bfloat16 their error was 1.8 times the dilated form's.
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    x = jax.random.normal(keys[0], (8, side, side, 64))
    w = jax.random.normal(keys[1], (4, 4, 64, 32)) * 0.1
    exact = pytorch_conv_transpose(np.asarray(x, np.float64), np.asarray(w, np.float64))

    def rms_error(impl):
        got = upsample_conv(x.astype(jnp.bfloat16), w.astype(jnp.bfloat16), impl)
        assert got.dtype == jnp.bfloat16
        return float(np.sqrt(np.mean((np.asarray(got, np.float64) - exact) ** 2)))

    assert rms_error("conv") < 1.2 * rms_error("xla")


def test_compiler_options_move_convolutions_off_ynnpack_and_keep_their_values():
    # On CPU the options leave convolutions to XLA's own kernels (module
    # docstring): a DCGAN layer that XLA's defaults give to YNNPACK (from about
    # 16 channels, on the AMD machines measured) then has no YNNPACK fusion,
    # and computes what the default program computes, to float rounding.
    if jax.default_backend() != "cpu":
        pytest.skip("the CPU's options")
    options = compiler_options()
    if not options:
        pytest.skip("this jaxlib does not know the options (compiler_options gives {})")
    assert options == dict(layers.BACKEND_COMPILER_OPTIONS["cpu"])
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    x, w = jax.random.normal(keys[0], (4, 16, 16, 32)), jax.random.normal(keys[1], (4, 4, 32, 32))
    cotangent = jax.random.normal(keys[2], (4, 8, 8, 32))

    def layer(x, w):  # the layer's output and both of its gradients
        y, vjp = jax.vjp(lambda x, w: conv2d(x, w, (2, 2), ((1, 1), (1, 1))), x, w)
        return y, *vjp(cotangent)

    lowered = jax.jit(layer).lower(x, w)
    tuned, default = lowered.compile(compiler_options=options), lowered.compile()
    if "__ynn_fusion" not in default.as_text():
        pytest.skip("XLA's defaults leave this convolution to Eigen on this CPU")
    assert "__ynn_fusion" not in tuned.as_text()
    # Sums of hundreds of float32 products: both kernels round to about 1e-6
    # of the largest value (against float64, 4e-5 at a scale of 86).
    for a, b in zip(tuned(x, w), default(x, w), strict=True):
        np.testing.assert_allclose(a, b, atol=3e-6 * float(jnp.abs(b).max()))
    assert compiler_options("tpu") == {}  # no entry: XLA's defaults


def test_compiler_options_update_a_scanned_adam_step_in_place():
    # Without region analysis XLA:CPU copies Adam's moments at every iteration
    # of a scan (layers' docstring); with the options the loop body reads its
    # carry without copying it, and the program computes the same bits.
    if jax.default_backend() != "cpu" or not compiler_options():
        pytest.skip("the CPU's options")
    optimizer = optax.adam(1e-2)

    def loss(params, x):
        return jnp.sum(jnp.tanh(x @ params["w1"]) @ params["w2"])

    def train(params, x):
        def body(carry, _):
            params, opt_state = carry
            updates, opt_state = optimizer.update(jax.grad(loss)(params, x), opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), None
        return lax.scan(body, (params, optimizer.init(params)), None, length=3)[0]

    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    params = {"w1": jax.random.normal(keys[0], (16, 16)),
              "w2": jax.random.normal(keys[1], (16, 16))}
    x = jax.random.normal(keys[2], (8, 16))
    lowered = jax.jit(train).lower(params, x)
    options = compiler_options()
    region = "xla_cpu_copy_insertion_use_region_analysis"
    without = {k: v for k, v in options.items() if k != region}
    assert options[region] is True
    tuned, plain = lowered.compile(compiler_options=options), lowered.compile(
        compiler_options=without)

    def carry_copies(compiled):  # relies on as_text() naming operands without their types
        return sum("copy(%get-tuple-element" in line for line in compiled.as_text().splitlines())

    assert carry_copies(plain) >= 1 and carry_copies(tuned) == 0
    for a, b in zip(jax.tree.leaves(tuned(params, x)), jax.tree.leaves(plain(params, x)),
                    strict=True):
        np.testing.assert_array_equal(a, b)


def test_compiler_options_that_this_xla_does_not_know_are_dropped(monkeypatch):
    # Another jaxlib may not know an option: the options only change speed,
    # so compiler_options leaves that one out rather than give a program that
    # cannot compile, and keeps the ones this XLA knows.
    monkeypatch.setattr(layers, "BACKEND_COMPILER_OPTIONS",
                        {jax.default_backend(): {"xla_cpu_no_such_option": "1"}})
    assert compiler_options() == {}
    known = {"xla_dump_hlo_as_text": True}  # an option every XLA of this era has
    monkeypatch.setattr(layers, "BACKEND_COMPILER_OPTIONS",
                        {jax.default_backend(): {"xla_cpu_no_such_option": "1", **known}})
    assert compiler_options() == known


def test_auto_takes_the_backends_entry_of_the_recorded_table():
    assert resolve_impl("auto", "cpu") == BACKEND_IMPLS["cpu"] == "conv"
    assert resolve_impl("auto", "gpu") == BACKEND_IMPLS["gpu"]
    assert resolve_impl("auto", "metal") == "xla"     # not in the table: JAX's own
    assert resolve_impl("subpixel", "gpu") == "subpixel"  # a named choice overrides
    with pytest.raises(ValueError, match="impl must be 'auto' or one of conv, subpixel, xla"):
        resolve_impl("cudnn")
    with pytest.raises(ValueError, match="DCGANDiscriminator impl must be 'auto' or one of"):
        DCGANDiscriminator(resolution=32, impl="cudnn")
    # The same function: a checkpoint saved under one resumes under another.
    import jaxgan

    def described(impl):
        return jaxgan.GANRecipe(DCGANGenerator(resolution=32, width=4, impl=impl),
                                DCGANDiscriminator(resolution=32, width=4, impl=impl),
                                8).describe()

    assert described("conv") == described("auto") == described("xla")
    # Runs saved before impl could be chosen recorded impl = 'conv'; a resume
    # compares the saved description through the same module_identity.
    saved = repr(DCGANGenerator(resolution=32, width=4, impl="conv"))
    assert "impl = 'conv'" in saved
    assert jaxgan.state.module_identity(saved) == described("auto")["generator"]
    # Runs saved before body_resolution, pack and class_head existed resume too.
    older = repr(DCGANDiscriminator(resolution=32, width=4))
    for field in ("body_resolution = 0", "pack = 1", "class_head = False"):
        assert field in older
        older = older.replace(f"\n    {field}", "")
    assert jaxgan.state.module_identity(older) == described("auto")["discriminator"]
    # Only a field's whole default is left out: pack = 10 stays pack = 10.
    packed = repr(DCGANDiscriminator(resolution=32, width=4, pack=10))
    assert "\n    pack = 10\n" in jaxgan.state.module_identity(packed)

    # On this CPU, "auto" builds the hand-written derivatives and "xla" does not.
    x = jnp.zeros((2, 32, 32, 3))
    z = jnp.zeros((2, 8))

    def program(module, inputs):
        variables = module.init(jax.random.PRNGKey(0), inputs, train=False)
        return str(jax.make_jaxpr(jax.grad(lambda v: jnp.sum(module.apply(
            v, inputs, train=False))))(variables))

    if jax.default_backend() != "cpu":
        pytest.skip("checks the CPU's entry of the table")
    for make, inputs in ((lambda impl: DCGANDiscriminator(resolution=32, width=4, impl=impl), x),
                         (lambda impl: DCGANGenerator(resolution=32, width=4, impl=impl), z)):
        assert "custom_vjp" in program(make("auto"), inputs)
        assert program(make("auto"), inputs) == program(make("conv"), inputs)
        assert "custom_vjp" not in program(make("xla"), inputs)
