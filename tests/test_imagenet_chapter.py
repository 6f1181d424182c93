"""What the ImageNet chapter computes: top-k scoring as the challenge did it, the guess tables, WordNet ids."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import nets.data
from nets import ilsvrc

CLASSES = ["cat", "dog", "fish", "bird"]


def test_rank_and_topk_agree_with_torch_topk_on_random_scores():
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(200, 37, generator=g)
    labels = torch.randint(0, 37, (200,), generator=g)
    ranks = ilsvrc.true_class_rank(scores, labels)
    assert ranks.min() >= 1 and ranks.max() <= 37
    for k in (1, 2, 5, 37):
        in_topk = (scores.topk(k, dim=1).indices == labels[:, None]).any(dim=1)
        assert torch.equal(ilsvrc.topk_correct(scores, labels, k), in_topk)
        assert ilsvrc.topk_accuracy(scores, labels, k) == pytest.approx(in_topk.float().mean().item())
    assert ilsvrc.topk_accuracy(scores, labels, 37) == 1.0


def test_topk_accuracy_never_falls_as_k_grows_and_matches_hand_counts():
    scores = torch.tensor(
        [
            [0.7, 0.1, 0.1, 0.1],  # truth 0, ranked 1st
            [0.5, 0.3, 0.15, 0.05],  # truth 1, ranked 2nd
            [0.4, 0.3, 0.2, 0.1],  # truth 3, ranked last
        ]
    )
    labels = torch.tensor([0, 1, 3])
    assert ilsvrc.true_class_rank(scores, labels).tolist() == [1, 2, 4]
    assert [ilsvrc.topk_accuracy(scores, labels, k) for k in (1, 2, 3, 4)] == pytest.approx(
        [1 / 3, 2 / 3, 2 / 3, 1]
    )


def test_a_tie_counts_against_the_true_class():
    constant = torch.zeros(3, 10)
    labels = torch.tensor([0, 4, 9])
    assert ilsvrc.true_class_rank(constant, labels).tolist() == [10, 10, 10]
    assert ilsvrc.topk_accuracy(constant, labels, 5) == 0.0  # a network that says nothing is never right


def test_numpy_inputs_work_too():
    scores = np.array([[0.1, 0.9], [0.8, 0.2]])
    assert ilsvrc.topk_correct(scores, np.array([1, 1]), 1).tolist() == [True, False]


@pytest.mark.parametrize(
    ("scores", "labels", "k", "match"),
    [
        (torch.zeros(2, 4), torch.tensor([0, 1]), 0, "k must be"),
        (torch.zeros(2, 4), torch.tensor([0, 1]), 5, "k must be"),
        (torch.zeros(2, 4), torch.tensor([0, 1]), True, "k must be"),
        (torch.zeros(2, 4), torch.tensor([0, 4]), 1, "class indices in 0..3"),
        (torch.zeros(2, 4), torch.tensor([0]), 1, "one label per image"),
        (torch.zeros(4), torch.tensor([0]), 1, "shaped \\(images, classes\\)"),
        (torch.zeros(2, 4, dtype=torch.long), torch.tensor([0, 1]), 1, "float table"),
        (torch.zeros(2, 4), torch.tensor([0.0, 1.0]), 1, "integer class index"),
    ],
)
def test_bad_inputs_say_what_is_wrong(scores, labels, k, match):
    with pytest.raises(ValueError, match=match):
        ilsvrc.topk_correct(scores, labels, k)


def test_scores_from_guesses_spreads_what_is_left_over_the_unnamed_classes():
    scores, labels = ilsvrc.scores_from_guesses(
        [("dog", {"cat": 0.6, "dog": 0.3}), ("fish", {"fish": 1.0}), ("bird", {})], CLASSES
    )
    assert labels.tolist() == [1, 2, 3]
    assert scores[0].tolist() == pytest.approx([0.6, 0.3, 0.05, 0.05])
    assert scores[1].tolist() == pytest.approx([0, 0, 1, 0])
    assert scores[2].tolist() == pytest.approx([0.25] * 4)
    assert scores.sum(dim=1).tolist() == pytest.approx([1, 1, 1])
    assert ilsvrc.true_class_rank(scores, labels).tolist() == [2, 1, 4]


@pytest.mark.parametrize(
    ("examples", "match"),
    [
        ([("dgo", {})], "unknown class 'dgo'. Did you mean 'dog'"),
        ([("dog", {"cta": 0.5})], "Did you mean 'cat'"),
        ([("dog", {"cat": 0.7, "dog": 0.6})], "add up to 1.3"),
        ([("dog", {"cat": 1.5})], "must be in \\[0, 1\\]"),
    ],
)
def test_scores_from_guesses_rejects_typos_and_impossible_probabilities(examples, match):
    with pytest.raises(ValueError, match=match):
        ilsvrc.scores_from_guesses(examples, CLASSES)


def _example_report(k: int) -> ilsvrc.TopKReport:
    scores, labels = ilsvrc.scores_from_guesses(
        [
            ("cat", {"cat": 0.9}),
            ("dog", {"cat": 0.5, "dog": 0.4}),
            ("bird", {"cat": 0.4, "dog": 0.3, "fish": 0.2}),
        ],
        CLASSES,
    )
    return ilsvrc.topk_report(
        scores, labels, CLASSES, k, captions=["a cat", "a dog <& a cat>", "a bird"], show=3
    )


def test_topk_report_lists_the_best_guesses_and_scores_them():
    report = _example_report(2)
    assert report.ranks == (1, 2, 4)
    assert report.correct == (True, True, False)
    assert report.accuracy == pytest.approx(2 / 3)
    assert [name for name, _ in report.guesses[1]] == ["cat", "dog", report.guesses[1][2][0]]
    assert report.guesses[0][0] == ("cat", pytest.approx(0.9))
    assert report.summary == "top-2: 2 of 3 images correct, accuracy 67%, top-2 error 33%"
    assert str(report).splitlines()[0] == report.summary
    assert _example_report(1).correct == (True, False, False)


def test_topk_report_html_marks_the_counted_guesses_and_escapes_captions():
    page = _example_report(1)._repr_html_()
    assert page.count("<tr>") == 4  # header + 3 images
    assert "a dog &lt;&amp; a cat&gt;" in page and "<& a cat>" not in page
    assert page.count("&#10003; correct") == 1 and page.count("&#10007; wrong") == 2
    # the dog's true class is its second guess: shown bold but not counted at top-1
    row = re.findall(r"<tr>.*?</tr>", page)[2]
    assert "font-weight:bold;background:#f3e3c3" in row and "color:#595959" in row
    assert "background:#c8f0c8" in _example_report(2)._repr_html_()


def test_topk_report_checks_its_arguments():
    scores, labels = torch.rand(2, 4), torch.tensor([0, 1])
    with pytest.raises(ValueError, match="3 class names for 4 columns"):
        ilsvrc.topk_report(scores, labels, CLASSES[:3], 1)
    with pytest.raises(ValueError, match="1 captions for 2 images"):
        ilsvrc.topk_report(scores, labels, CLASSES, 1, captions=["x"])
    assert ilsvrc.topk_report(scores, labels, CLASSES, 1).captions == ("image 1", "image 2")


def test_topk_report_renders_inside_a_static_widget():
    from nets import widgets

    scores, labels = torch.rand(3, 4), torch.tensor([0, 1, 2])
    explorer = widgets.explore(
        lambda k: ilsvrc.topk_report(scores, labels, CLASSES, k), live=False, k=[1, 2, 3]
    )
    pages = [out.outputs[0]["data"]["text/html"] for out in explorer.view.children]
    assert [f"top-{k}:" in page for k, page in zip((1, 2, 3), pages, strict=True)] == [True] * 3


def test_wordnet_synsets_of_imagenette_name_its_classes():
    pytest.importorskip("timm")
    synsets = ilsvrc.wordnet_synsets(nets.data.IMAGENETTE_WNIDS)
    assert [s.lemmas[0] for s in synsets] == nets.data.IMAGENETTE_CLASSES
    tench = synsets[0]
    assert (tench.wnid, tench.pos, tench.offset) == ("n01440764", "noun", 1440764)
    assert tench.lemmas == ("tench", "Tinca tinca") and "fish" in tench.gloss
    with pytest.raises(ValueError, match="not ImageNet synset ids"):
        ilsvrc.wordnet_synsets(["n99999999"])


def test_imagenet1k_wnids_number_the_classes_like_torchvision():
    pytest.importorskip("timm")
    from torchvision.models import ResNet18_Weights

    wnids = ilsvrc.imagenet1k_wnids()
    categories = ResNet18_Weights.IMAGENET1K_V1.meta["categories"]
    assert len(wnids) == len(categories) == 1000
    for wnid, name in zip(nets.data.IMAGENETTE_WNIDS, nets.data.IMAGENETTE_CLASSES, strict=True):
        assert categories[wnids.index(wnid)] == name


def test_topk_report_reads_as_text_without_html():
    report = _example_report(3)
    assert repr(report) == str(report)
    lines = str(report).splitlines()[
        1:
    ]  # (guesses after the named ones tie, so only the named ones are checked)
    assert lines[0].startswith("correct  a cat [cat, rank 1]: cat 90%, ")
    assert lines[1].startswith("correct  a dog <& a cat> [dog, rank 2]: cat 50%, dog 40%, ")
    assert lines[2] == "wrong    a bird [bird, rank 4]: cat 40%, dog 30%, fish 20%"


# The chapter's text


def _chapter(kind: str) -> list[str]:
    """The sources of the chapter's cells of ``kind``, after the setup cell (synced from book/_setup_cell.py)."""
    cells = json.loads((Path(__file__).parent.parent / "book" / "imagenet.ipynb").read_text())["cells"]
    return ["".join(c["source"]) for c in cells[1:] if c["cell_type"] == kind]


def test_the_chapters_code_lines_fit_the_cell():
    long = [line for cell in _chapter("code") for line in cell.splitlines() if len(line) > 90]
    assert long == []
