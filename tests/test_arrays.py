"""The device-resident sampler and the bundled digits."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.data import shuffle as shuffles
from jaxgan.data.arrays import SHUFFLES, ArraySource, digits


def numbered_source(n, shuffle_seed=0, shuffle="feistel"):
    """Image i is filled with the value i, so samples name their index."""
    images = np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None, None],
                             (n, 2, 2, 1)).copy()
    return ArraySource("numbered", images, np.arange(n, dtype=np.int32), shuffle_seed, shuffle)


def drawn_indices(source, steps, num):
    data = source.device_data()
    sample = jax.jit(lambda step: source.sample_real(None, step, data, num))
    return np.concatenate([np.asarray(sample(jnp.int32(s)))[:, 0, 0, 0] for s in range(steps)])


@pytest.mark.parametrize("shuffle", SHUFFLES)
def test_every_example_once_per_epoch_across_epoch_boundaries(shuffle):
    n, num = 10, 3  # steps straddle epochs: positions 9, 10, 11 are step 3
    stream = drawn_indices(numbered_source(n, shuffle=shuffle), steps=10, num=num).astype(int)
    assert len(stream) == 30
    for epoch in range(3):
        assert sorted(stream[epoch * n:(epoch + 1) * n]) == list(range(n)), epoch
    # a fresh permutation each epoch, not the same order again
    assert not np.array_equal(stream[:n], stream[n:2 * n])


@pytest.mark.parametrize("shuffle", SHUFFLES)
def test_order_is_a_pure_function_of_the_step_and_the_seed(shuffle):
    source = numbered_source(50, shuffle=shuffle)
    first = drawn_indices(source, steps=4, num=16)
    np.testing.assert_array_equal(first, drawn_indices(source, steps=4, num=16))
    other_seed = drawn_indices(numbered_source(50, 1, shuffle), steps=4, num=16)
    assert not np.array_equal(first, other_seed)
    other_order = "permutation" if shuffle == "feistel" else "feistel"
    assert not np.array_equal(first, drawn_indices(numbered_source(50, 0, other_order), 4, 16))
    # step 3 read on its own equals step 3 of the stream (what a resume does)
    data = source.device_data()
    alone = np.asarray(source.sample_real(None, jnp.int32(3), data, 16))[:, 0, 0, 0]
    np.testing.assert_array_equal(alone, first[48:64])


@pytest.mark.parametrize("shuffle", SHUFFLES)
def test_positions_do_not_overflow_on_long_runs(shuffle):
    source = numbered_source(1000, shuffle=shuffle)
    # step * num = 4e9 > 2^31: position arithmetic must not wrap around
    step, num = 40_000_000, 100
    got = np.asarray(source.indices(jnp.int32(step), num))
    position = step * num
    epoch, offset = divmod(position, 1000)
    key = jax.random.fold_in(jax.random.PRNGKey(0), epoch)
    if shuffle == "permutation":
        order = np.asarray(jax.random.permutation(key, 1000))
    else:
        order = shuffles.shuffle_table(1000, key)
    np.testing.assert_array_equal(got, order[offset:offset + num])


def test_bad_shapes_and_oversized_batches_are_clear_errors():
    with pytest.raises(ValueError, match=r"\[N, H, W, C\]"):
        ArraySource("x", np.zeros((5, 8, 8)))
    with pytest.raises(ValueError, match=r"labels must be \[N\] = \[5\]"):
        ArraySource("x", np.zeros((5, 8, 8, 1), np.float32), np.zeros(4, np.int32))
    with pytest.raises(ValueError, match="uint8 .* or float32"):
        ArraySource("x", np.zeros((5, 8, 8, 1), np.int64))
    with pytest.raises(ValueError, match="only 10"):
        numbered_source(10).indices(jnp.int32(0), 11)
    with pytest.raises(ValueError, match="shuffle must be one of feistel, permutation, got 'x'"):
        numbered_source(10, shuffle="x")


@pytest.mark.parametrize("size", [8, 28, 32])
def test_digits_are_bundled_scaled_and_resized(size):
    source = digits(size)
    assert source.images.shape == (1797, size, size, 1)
    assert source.images.dtype == np.float32
    assert source.images.min() >= -1.0 and source.images.max() <= 1.0
    np.testing.assert_allclose([source.images.min(), source.images.max()], [-1.0, 1.0],
                               atol=0.05)
    assert sorted(np.unique(source.labels)) == list(range(10))
    # about 180 of each digit
    assert np.bincount(source.labels).min() > 170
    if size == 8:  # no resize: exactly ink / 8 - 1
        from sklearn.datasets import load_digits
        np.testing.assert_allclose(source.images[..., 0], load_digits().images / 8 - 1)
