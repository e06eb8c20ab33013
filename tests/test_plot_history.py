"""plot_history: several runs in one figure keep their own labels, and D's raw LSGAN outputs
are not drawn as probabilities."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from course_lib.experiment import plot_history  # noqa: E402
from course_lib.train.engine import History  # noqa: E402


def _history(d_real: float, d_fake: float) -> History:
    h = History()
    for step in range(10):
        h.append(step, {"loss_D": 0.5, "loss_G_GAN": 0.4, "D_real": d_real, "D_fake": d_fake})
    return h


def test_two_runs_in_one_figure_keep_their_titles() -> None:
    fig, axes = plt.subplots(2, 2)
    plot_history(_history(0.9, 0.1), title="run A", axes=list(axes[0]))
    plot_history(_history(0.6, 0.4), title="run B", axes=list(axes[1]))
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["run A: losses", "run A: D's outputs", "run B: losses", "run B: D's outputs"]
    assert fig._suptitle is None                       # nothing over the whole figure
    plt.close(fig)


def test_own_figure_gets_one_title() -> None:
    fig = plot_history(_history(0.9, 0.1), title="run A")
    assert fig._suptitle is not None and fig._suptitle.get_text() == "run A"
    plt.close(fig)


def test_probabilities_and_raw_outputs_are_labelled_for_what_they_are() -> None:
    fig = plot_history(_history(0.9, 0.1))
    right = fig.axes[1]
    assert right.get_ylim() == (0, 1) and "probability" in right.get_ylabel()
    assert "sigmoid" in right.get_legend().get_texts()[0].get_text()
    plt.close(fig)

    fig = plot_history(_history(1.4, -0.3), d_output="raw")      # LSGAN outputs leave 0..1
    right = fig.axes[1]
    assert "probability" not in right.get_ylabel() and "mean output" in right.get_ylabel()
    assert "sigmoid" not in right.get_legend().get_texts()[0].get_text()
    low, high = right.get_ylim()
    assert low < -0.3 and high > 1.4                   # not clipped to 0..1
    plt.close(fig)
    with pytest.raises(ValueError, match="d_output"):
        plot_history(_history(0.9, 0.1), d_output="logits")
