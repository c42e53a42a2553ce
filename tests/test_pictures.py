"""The pictures and summaries people read: curves with their real-data floor,
labelled axes and legible legends, and no made-up standard error."""

import json

import numpy as np
import pytest

from jaxgan import run_io, viz
from jaxgan.evaluation import summarize_seeds


def write_log(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_curves_show_losses_and_evaluation_metrics_against_the_real_data_floor(tmp_path):
    records = [{"step": s, "d_loss": 1.0 / s, "g_loss": 2.0, "steps_per_sec": 5.0,
                "d_auc": 0.8, "g_sample_spread": 0.9} for s in (10, 20, 30, 40)]
    records[1].update(frechet_distance=40.0, confident_fraction=0.3, classes_covered=8.0,
                      kid=3.0)
    records[3].update(frechet_distance=20.0, confident_fraction=0.6, classes_covered=10.0,
                      kid=1.0)
    write_log(tmp_path / "metrics.jsonl", records)
    fig = viz.plot_losses(str(tmp_path / "metrics.jsonl"), str(tmp_path / "curves.png"),
                          title="digits: dcgan, hinge",
                          floor={"real_frechet_distance": 17.8, "real_confident_fraction": 0.92})
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert fig._suptitle.get_text() == "digits: dcgan, hinge"
    losses, health, *panels = fig.axes
    assert health.get_title() == "training health"
    assert [line.get_label() for line in health.lines[:2]] == list(viz.HEALTH_LABELS.values())
    # The first three known metrics, in order of preference; kid is not among them.
    assert [ax.get_ylabel() for ax in panels] == ["frechet_distance", "confident_fraction",
                                                  "classes_covered"]
    assert [ax.get_title() for ax in panels] == [viz.METRIC_LABELS[ax.get_ylabel()]
                                                 for ax in panels]
    for ax in fig.axes:
        assert ax.get_xlabel() == "step"
        assert min(t.get_fontsize() for t in ax.get_legend().get_texts()) >= 8
    np.testing.assert_array_equal(losses.lines[0].get_ydata(), [0.1, 0.05, 1 / 30, 0.025])
    fd, confident, covered = panels
    np.testing.assert_array_equal(fd.lines[0].get_xdata(), [20, 40])
    np.testing.assert_array_equal(fd.lines[0].get_ydata(), [40.0, 20.0])
    # The floor is a dashed line where eval.json has one, and absent where not.
    assert fd.lines[1].get_linestyle() == "--" and fd.lines[1].get_ydata()[0] == 17.8
    assert confident.lines[1].get_ydata()[0] == 0.92
    assert len(covered.lines) == 1
    # Where modes are scored (Stacked MNIST), their coverage and KL come
    # first, each with its floor.
    for r, kl in zip(records[1::2], (0.3, 0.1), strict=True):
        r.update(modes_covered=1000.0, reverse_kl=kl)
    write_log(tmp_path / "metrics.jsonl", records)
    fig = viz.plot_losses(str(tmp_path / "metrics.jsonl"), str(tmp_path / "curves.png"),
                          floor={"real_reverse_kl": 0.02})
    modes, kl, fd = fig.axes[2:]
    assert [ax.get_ylabel() for ax in (modes, kl, fd)] == ["modes_covered", "reverse_kl",
                                                           "frechet_distance"]
    np.testing.assert_array_equal(kl.lines[0].get_ydata(), [0.3, 0.1])
    assert kl.lines[1].get_ydata()[0] == 0.02


def test_scatter_plots_label_their_axes_and_explain_the_zones_legibly(tmp_path):
    rng = np.random.default_rng(0)
    centers = np.array([[1.0, 0.0], [-1.0, 0.0]])
    fig = viz.scatter_2d(str(tmp_path / "points.png"), rng.normal(size=(50, 2)),
                         [rng.normal(size=(20, 2)) for _ in range(3)], centers, radius=0.3,
                         titles=["seed 0", "seed 1", "seed 2"])
    for ax in fig.axes:
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("x1", "x2")
    (legend,) = fig.legends
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts == ["real", "generated", "high-quality zone (r=0.3 around a mode)"]
    assert min(t.get_fontsize() for t in legend.get_texts()) >= 8


def test_one_seed_has_no_standard_error_and_two_have_the_textbook_one():
    one = summarize_seeds({"fd": np.array([5.0])})
    assert one == {"fd": 5.0, "fd_stderr": None, "fd_per_seed": [5.0]}
    assert json.loads(json.dumps(one))["fd_stderr"] is None  # JSON null
    two = summarize_seeds({"fd": np.array([1.0, 3.0])})
    # sample std sqrt(2), over sqrt(2 seeds)
    assert two["fd"] == 2.0 and two["fd_stderr"] == pytest.approx(1.0)


def test_tensorboard_groups_timings_evaluation_and_training_apart():
    evaluated = {"frechet_distance"}
    assert run_io.tensorboard_tag("steps_per_sec", evaluated) == "time/steps_per_sec"
    assert run_io.tensorboard_tag("frechet_distance", evaluated) == "eval/frechet_distance"
    assert run_io.tensorboard_tag("d_loss", evaluated) == "train/d_loss"
    assert run_io.tensorboard_tag("frechet_distance") == "train/frechet_distance"


def test_pictures_are_titled_with_the_experiment():
    assert run_io.experiment_title({"dataset": "digits", "model": "dcgan",
                                    "loss": "hinge"}) == "digits: dcgan, hinge loss"
    assert run_io.experiment_title({"dataset": "my_ring"}) == "my_ring"
