"""DCGAN models: the reference configuration's exact parameter counts, output
shapes at every resolution, and the DCGAN layer rules. Shapes only
(jax.eval_shape), so nothing is computed."""

import math

import jax
import jax.numpy as jnp
import pytest

from jaxgan.models import DCGANDiscriminator, DCGANGenerator


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
    kernels = [g_vars["params"][f"ConvTranspose_{i}"]["kernel"].shape for i in range(5)]
    assert kernels == [(4, 4, 100, 512), (4, 4, 512, 256), (4, 4, 256, 128),
                       (4, 4, 128, 64), (4, 4, 64, 3)]
    assert all("bias" not in layer for layer in g_vars["params"].values()
               if "kernel" in layer)
    # discriminator 3 -> 64 -> 128 -> 256 -> 512 -> 1; BatchNorm on all blocks but the first
    kernels = [d_vars["params"][f"Conv_{i}"]["kernel"].shape for i in range(5)]
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


def test_weights_are_initialised_from_n_0_002():
    variables = DCGANGenerator(resolution=64, width=64).init(
        jax.random.PRNGKey(0), jnp.zeros((1, 100)), train=False)
    kernel = variables["params"]["ConvTranspose_1"]["kernel"]
    assert abs(float(kernel.std()) - 0.02) < 0.001 and abs(float(kernel.mean())) < 0.001
    scale = variables["params"]["BatchNorm_0"]["scale"]
    assert abs(float(scale.mean()) - 1.0) < 0.01


def test_wrong_image_size_is_a_clear_error():
    with pytest.raises(ValueError, match="resolution must be one of"):
        init_shapes(DCGANGenerator(resolution=48), jnp.zeros((1, 8)))
    with pytest.raises(ValueError, match=r"resolution=32\) got images of shape \(28, 28, 1\)"):
        init_shapes(DCGANDiscriminator(resolution=32), jnp.zeros((1, 28, 28, 1)))
