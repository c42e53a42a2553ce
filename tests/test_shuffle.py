"""The O(batch) data order (jaxgan.data.shuffle): a permutation at every size,
a different one per key, well mixed, and what ArraySource reads with it."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.data import shuffle


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 13, 15, 16, 17, 31, 32, 33, 1023, 1024, 1025,
                               1797, 4093, 65535, 65536, 65537])
def test_every_key_gives_a_permutation_at_awkward_sizes(n):
    for seed in range(2):
        order = shuffle.shuffle_table(n, jax.random.PRNGKey(seed))
        assert order.dtype == np.int32
        np.testing.assert_array_equal(np.sort(order), np.arange(n))


def test_half_bits_is_the_least_even_width_that_covers_n():
    assert [shuffle.half_bits(n) for n in (1, 2, 4, 5, 16, 17, 1797, 2**32)] == [
        1, 1, 1, 2, 2, 3, 6, 16]
    for n in (0, 2**32 + 1):
        with pytest.raises(ValueError, match="a shuffle covers 1 to 2\\*\\*32 indices"):
            shuffle.half_bits(n)


def test_orders_differ_between_keys_and_look_random():
    n = 1797
    a = shuffle.shuffle_table(n, jax.random.PRNGKey(0))
    b = shuffle.shuffle_table(n, jax.random.PRNGKey(1))
    # Two independent random permutations agree in about one place, and a
    # random order keeps about one element in place.
    assert (a == b).sum() < 10 and (a == np.arange(n)).sum() < 10
    assert abs(np.corrcoef(np.arange(n), a)[0, 1]) < 0.1
    # Where position 0 lands over many keys: uniform over 0..9 (chi-square
    # with 9 degrees of freedom; 27.9 is its 0.1% tail).
    keys = jax.random.split(jax.random.PRNGKey(2), 5000)
    landing = np.asarray(jax.jit(jax.vmap(
        lambda k: shuffle.shuffle_index(jnp.int32(0), 10, shuffle.round_keys(k))))(keys))
    counts = np.bincount(landing, minlength=10)
    assert ((counts - 500.0) ** 2 / 500.0).sum() < 27.9, counts


def test_one_position_is_computed_alone_and_agrees_with_the_whole_table():
    n, key = 60_000, jax.random.PRNGKey(3)
    table = shuffle.shuffle_table(n, key)
    positions = jnp.array([0, 1, 59_999, 31_337])
    one_at_a_time = [int(shuffle.shuffle_index(p, n, shuffle.round_keys(key))) for p in positions]
    assert one_at_a_time == table[np.asarray(positions)].tolist()
