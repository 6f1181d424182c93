"""nets.lab.verdicts.compare: the one effect-against-spread rule, on synthetic numbers."""

import math

import pytest

from nets.lab.verdicts import compare


def test_a_clear_win_in_steps_says_how_many_times_faster_per_seed():
    v = compare("ReLU", [100, 110, 120], "tanh", [230, 250, 300], higher_is_better=False, scale="ratio",
                what="steps to 25% training error")  # fmt: skip
    assert v.winner == "ReLU" and v.clear
    assert v.effect == pytest.approx(110 / 260)
    assert "ReLU 2.4x faster in steps to 25% training error than tanh" in v.text
    assert "per seed 2.3-2.5x" in v.text


def test_a_clear_loss_is_the_other_arm_winning():
    v = compare("compound", [60.0, 61.0, 62.0], "resolution", [70.0, 71.5, 72.0], unit="points")
    assert v.winner == "resolution"
    assert v.effect == pytest.approx(61.0 - 71.1666, abs=1e-3)
    assert "resolution ahead by 10.2 points" in v.text


def test_overlapping_seeds_are_no_clear_difference():
    v = compare("BN", [70.0, 75.0, 80.0], "plain", [72.0, 74.0, 78.0], unit="points")
    assert v.winner is None and not v.clear
    assert v.text.startswith("no clear difference")
    assert v.spread == pytest.approx(10.0)


def test_separate_ranges_but_a_gap_inside_the_spread_is_no_clear_difference():
    # every seed of a beats every seed of b, but the means differ by 2.2 while one arm spans 3.0
    v = compare("a", [10.0, 11.0, 13.0], "b", [9.0, 9.1, 9.2])
    assert v.winner is None


def test_an_arm_that_never_reaches_the_target_loses_to_one_that_always_does():
    v = compare("ReLU", [300, 320, 350], "tanh", [math.inf] * 3, higher_is_better=False, scale="ratio")
    assert v.winner == "ReLU" and v.effect == 0.0
    assert "tanh did not get there in 3 of 3 seeds" in v.text and "did not reach" in v.text


def test_missing_the_target_in_one_seed_only_cannot_win_and_both_missing_is_a_tie():
    v = compare("a", [100, 110, math.inf], "b", [300, 310, 320], higher_is_better=False, scale="ratio")
    assert v.winner is None
    both = compare("a", [math.inf] * 2, "b", [math.inf] * 2, higher_is_better=False, scale="ratio")
    assert both.winner is None and math.isnan(both.effect)


@pytest.mark.parametrize(
    ("values", "kwargs", "message"),
    [
        ([1.0], {}, "at least 2 seeds"),
        ([1.0, math.nan], {}, "must be numbers"),
        ([1.0, math.inf], {}, "must be numbers"),  # an accuracy cannot be infinite
        ([0.0, 1.0], {"scale": "ratio", "higher_is_better": False}, "positive numbers"),
        ([1.0, 2.0], {"scale": "log"}, "scale must be one of"),
    ],
)
def test_bad_numbers_are_refused_in_one_line(values, kwargs, message):
    with pytest.raises(ValueError, match=message):
        compare("a", values, "b", [1.0, 2.0], **kwargs)


def test_seed_figures_show_every_seed_and_refuse_bad_input():
    import matplotlib

    matplotlib.use("Agg")
    from nets import viz

    fig = viz.seed_points({"ReLU": [100, 120, 110], "tanh": [math.inf, 300, 280]}, ylabel="steps", title="t")
    from matplotlib.collections import PathCollection

    ax = fig.axes[0]
    dots = sum(len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection))
    assert dots == 6  # every seed, the one that never reached included
    assert any(t.get_text() == "did not reach" for t in ax.texts)
    fig = viz.seed_bands(
        [0.5, 0.25], {"a": [[10, 20], [12, 25], [11, math.inf]]}, xlabel="x", ylabel="y", title="t"
    )
    assert len(fig.axes[0].lines) == 4  # three seeds and their mean
    with pytest.raises(ValueError, match="one per x"):
        viz.seed_bands([1, 2], {"a": [[1]]}, xlabel="x", ylabel="y", title="t")
    with pytest.raises(ValueError, match="non-empty mapping"):
        viz.seed_points({}, ylabel="y", title="t")
