"""experiments/judge.py, the independent judge of generated digits: an SVM on
real pixels that knows real digits, refuses noise, and sees a collapse."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from jaxgan.data import load_dataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "experiments"))

import judge  # noqa: E402


@pytest.fixture(scope="module")
def digits_judge():
    return judge.fit_judge("digits", 0.2)


def test_the_judge_knows_real_digits_and_refuses_noise_and_collapse(digits_judge):
    svm, test_x, test_y, shares = digits_judge
    real = judge.scores(svm, test_x, shares, test_y)
    assert real["label_accuracy"] > 0.97 and real["confident"] > 0.8
    assert real["plausible"] == pytest.approx(0.95, abs=0.01)  # by construction
    assert real["classes_covered"] == 10 and real["class_kl"] < 0.01
    # Noise, and real digits drowned in it, are not digits, however sure the SVM is.
    rng = np.random.default_rng(0)
    noise = rng.uniform(0, 1, test_x.shape)
    assert judge.scores(svm, noise, shares)["confident"] == 0.0
    noisy = np.clip(test_x + rng.normal(0, 0.5, test_x.shape), 0, 1)
    assert judge.scores(svm, noisy, shares)["plausible"] < 0.1
    # One digit drawn again and again: one class, and the KL of a collapse (log 10).
    collapsed = judge.scores(svm, np.repeat(test_x[:1], 100, axis=0), shares)
    assert collapsed["classes_covered"] == 1 and collapsed["class_kl"] > 2.0


def test_a_run_of_real_digits_at_32x32_is_judged_as_real(tmp_path, digits_judge):
    """Real digits resized to the runs' 32x32 and area-averaged back to 8x8
    score about as the held-out real ones do."""
    source = load_dataset("digits", 32)
    (tmp_path / "samples").mkdir()
    (tmp_path / "config.json").write_text(json.dumps({"dataset": "digits"}))
    np.savez(tmp_path / "samples" / "final.npz", images=source.images[:500],
             labels=source.labels[:500])
    result = judge.judge_run(str(tmp_path), 0.2, {"digits": digits_judge})
    assert result["judge_label_accuracy"] > 0.9
    assert result["judge_confident"] > result["real_judge_confident"] - 0.15
    assert json.loads((tmp_path / "judge.json").read_text()) == result
    assert min(result[f"real_judge_label_accuracy_class_{k}"] for k in range(10)) > 0.9


def test_a_run_of_several_seeds_is_judged_seed_by_seed(tmp_path, digits_judge):
    """Two seeds, real digits and the same digits half drowned in noise: each
    score is the mean of the seeds' own, with their standard error beside."""
    source = load_dataset("digits", 32)
    real = source.images[:200]  # float32 in [-1, 1]
    noisy = real.copy()
    noisy[::2] = np.random.default_rng(0).uniform(-1, 1, noisy[::2].shape)
    (tmp_path / "samples").mkdir()
    (tmp_path / "config.json").write_text(json.dumps({"dataset": "digits"}))
    alone = {}
    for name, images in (("real", real), ("noisy", noisy)):
        np.savez(tmp_path / "samples" / "final.npz", images=images)
        alone[name] = judge.judge_run(str(tmp_path), 0.2, {"digits": digits_judge})
    np.savez(tmp_path / "samples" / "final.npz", images=real,
             images_per_seed=np.stack([real, noisy]))
    result = judge.judge_run(str(tmp_path), 0.2, {"digits": digits_judge})
    assert result["num_seeds"] == 2
    for name in ("judge_confident", "judge_plausible", "judge_class_kl"):
        a, b = alone["real"][name], alone["noisy"][name]
        assert result[name + "_per_seed"] == pytest.approx([a, b])
        assert result[name] == pytest.approx((a + b) / 2)
        assert result[name + "_stderr"] == pytest.approx(abs(a - b) / 2)
    assert alone["real"]["judge_plausible"] - alone["noisy"]["judge_plausible"] > 0.4
    # The judge and its real floor are the same for every seed: no spread.
    assert result["real_judge_confident"] == alone["real"]["real_judge_confident"]
    assert "judge_accuracy_stderr" not in result


def test_label_accuracy_per_class_counts_only_the_samples_asked_for_that_class(
        tmp_path, digits_judge):
    """Real digits with every 3 asked for as a 5: no class-3 entry, and the
    5s are right about as often as they are real 5s."""
    source = load_dataset("digits", 8)
    labels = source.labels[:500].copy()
    labels[labels == 3] = 5
    (tmp_path / "samples").mkdir()
    (tmp_path / "config.json").write_text(json.dumps({"dataset": "digits"}))
    np.savez(tmp_path / "samples" / "final.npz", images=source.images[:500], labels=labels)
    result = judge.judge_run(str(tmp_path), 0.2, {"digits": digits_judge})
    assert "judge_label_accuracy_class_3" not in result
    real_fives = np.mean(source.labels[:500][labels == 5] == 5)
    assert abs(result["judge_label_accuracy_class_5"] - real_fives) < 0.05, result
    per_class = {k: result[f"judge_label_accuracy_class_{k}"] for k in range(10) if k != 3}
    counts = {k: np.sum(labels == k) for k in per_class}
    assert result["judge_label_accuracy"] == pytest.approx(
        sum(per_class[k] * counts[k] for k in per_class) / len(labels), abs=1e-9)


def test_a_workdir_without_a_run_is_one_line_and_exit_2(tmp_path):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "experiments", "judge.py"),
                             f"--workdir={tmp_path}"], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path} holds no finished run (config.json and samples/final.npz); "
        "train one with experiments/train.py first"]


def test_a_cyclegan_run_is_judged_both_ways_and_framed_digits_are_cropped(tmp_path,
                                                                          digits_judge):
    """Real digits as the outputs both ways (plain A to B; framed in MNIST's
    margin B to A, which the judge crops back to their box) read as their
    classes; the same images with the wrong classes do not."""
    from jaxgan.data.arrays import framed_digits

    plain, framed = load_dataset("digits", 32), framed_digits(32)
    (tmp_path / "samples").mkdir()
    (tmp_path / "config.json").write_text(json.dumps({"dataset": "unpaired:digits_framed,"
                                                                 "digits"}))
    np.savez(tmp_path / "samples" / "final.npz", images=plain.images[:300],  # [-1, 1] floats
             labels=plain.labels[:300], ba_images=framed.images[:300],
             ba_labels=(framed.labels[:300] + 1) % 10)
    result = judge.judge_run(str(tmp_path), 0.2, {"digits": digits_judge})
    assert result["judge_label_accuracy"] > 0.9
    assert result["ba_judge_label_accuracy"] < 0.1  # the classes were shifted by one
    assert result["ba_judge_plausible"] > 0.8  # but the cropped digits are digits
    assert "8x8 real digits" in result["ba_judge"]
