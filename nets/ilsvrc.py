"""The ImageNet challenge (ILSVRC) classification results the book's story is told against, with sources.

Each entry is the best top-5 error on the *test* set of one team in one year of the ImageNet Large
Scale Visual Recognition Challenge (2010-2017). Top-5 error: the fraction of test images whose true
class is not among the team's five guesses. The numbers are data, not code, so they live here once
and every chapter (and ``nets.viz.ilsvrc_chart``) reads them from this module.

Caveats a reader should know before comparing bars:

* 2010 and 2011 were run on earlier versions of the data (the class list and test set were revised for
  2012; from 2012 to 2017 the classification data stayed the same). 2010 also ranked entries by a
  hierarchical cost; 28.2% is the winner's flat top-5 error, the metric of later years.
* Winning entries are ensembles evaluated on many crops, not one network on one crop; the single-model
  numbers the chapters reproduce are higher (e.g. AlexNet, one CNN: 18.2% top-5 error on val, the
  paper's Table 2, as ``nets.card("alexnet2012")`` holds it).
* SuperVision's 15.3% used extra training data (ImageNet Fall 2011); with the supplied data only it
  was 16.4% (ILSVRC2012 results page).

The module also scores guesses the way the challenge did (``true_class_rank``, ``topk_correct``,
``topk_accuracy``, ``topk_report``) and reads the WordNet synsets behind the class ids (``wordnet_synsets``).
"""

from __future__ import annotations

import difflib
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources

import torch

__all__ = [
    "ENTRIES",
    "HUMAN",
    "HumanEstimate",
    "ILSVRCEntry",
    "Synset",
    "TopKReport",
    "imagenet1k_wnids",
    "runners_up",
    "scores_from_guesses",
    "topk_accuracy",
    "topk_correct",
    "topk_report",
    "true_class_rank",
    "winners",
    "wordnet_synsets",
]

RUSSAKOVSKY_2015 = (
    "Russakovsky et al., 'ImageNet Large Scale Visual Recognition Challenge', "
    "IJCV 115(3):211-252, 2015 (arXiv:1409.0575)"
)


def _results_page(year: int) -> str:
    return f"ILSVRC{year} results, image-net.org/challenges/LSVRC/{year}/results"


@dataclass(frozen=True)
class ILSVRCEntry:
    """One team's classification result in one ILSVRC year."""

    year: int
    team: str  # the name the team entered under
    method: str  # what the entry was, in a few words
    top5_error_pct: float  # top-5 error on the test set, in percent
    rank: int  # 1 = winner of the classification task that year
    deep: bool  # a convolutional neural network (or an ensemble of them)
    source: str
    note: str = ""

    @property
    def label(self) -> str:
        """Short label for a chart: the method if it has a famous name, else the team."""
        return self.method if self.deep else self.team


@dataclass(frozen=True)
class HumanEstimate:
    """A human's top-5 error on ILSVRC test images (one trained annotator, so an estimate, not a bound)."""

    annotator: str
    top5_error_pct: float
    images: int  # how many test images the annotator labelled
    source: str
    note: str = ""


ENTRIES: tuple[ILSVRCEntry, ...] = (
    ILSVRCEntry(
        2010,
        "NEC-UIUC",
        "SIFT + LBP features, sparse coding, linear SVM",
        28.2,
        1,
        False,
        RUSSAKOVSKY_2015,
        "ILSVRC2010 data and test set; flat top-5 error (the 2010 ranking also used a hierarchical cost)",
    ),
    ILSVRCEntry(
        2011,
        "XRCE",
        "Fisher vectors, linear SVM",
        25.8,
        1,
        False,
        RUSSAKOVSKY_2015,
        "ILSVRC2011 data and test set",
    ),
    ILSVRCEntry(
        2012,
        "SuperVision",
        "AlexNet",
        15.3,
        1,
        True,
        RUSSAKOVSKY_2015,
        "ensemble of 7 CNNs, extra ImageNet Fall 2011 training data; runner-up 26.2%",
    ),
    ILSVRCEntry(
        2013,
        "Clarifai",
        "Clarifai",
        11.7,
        1,
        True,
        RUSSAKOVSKY_2015,
        "ensemble of CNNs in the style of Zeiler & Fergus (ZFNet)",
    ),
    ILSVRCEntry(2014, "GoogLeNet", "GoogLeNet", 6.7, 1, True, RUSSAKOVSKY_2015, "7 models, 144 crops"),
    ILSVRCEntry(2014, "VGG", "VGG", 7.3, 2, True, RUSSAKOVSKY_2015, "second place; ensemble of VGG nets"),
    ILSVRCEntry(2015, "MSRA", "ResNet", 3.57, 1, True, _results_page(2015), "ensemble of residual networks"),
    ILSVRCEntry(
        2016,
        "Trimps-Soushen",
        "Trimps-Soushen",
        2.99,
        1,
        True,
        _results_page(2016),
        "ensemble of Inception, Inception-ResNet, ResNet and Wide ResNet models",
    ),
    ILSVRCEntry(
        2017,
        "WMW",
        "SENet",
        2.25,
        1,
        True,
        _results_page(2017),
        "Squeeze-and-Excitation networks; the last ILSVRC",
    ),
)

HUMAN = HumanEstimate(
    annotator="Andrej Karpathy",
    top5_error_pct=5.1,
    images=1500,
    source=RUSSAKOVSKY_2015,
    note="one trained annotator on 1,500 ILSVRC2012 test images",
)


def winners() -> list[ILSVRCEntry]:
    """The classification winner of each year, oldest first."""
    return sorted((e for e in ENTRIES if e.rank == 1), key=lambda e: e.year)


def runners_up() -> list[ILSVRCEntry]:
    """Entries kept for the story that did not win (VGG, second in 2014), oldest first."""
    return sorted((e for e in ENTRIES if e.rank != 1), key=lambda e: (e.year, e.rank))


# --------------------------------------------------------------------------------------------------
# Scoring: top-1 and top-5
# --------------------------------------------------------------------------------------------------


def _scores_and_labels(scores: object, labels: object) -> tuple[torch.Tensor, torch.Tensor]:
    scores = torch.as_tensor(scores)
    labels = torch.as_tensor(labels)
    if scores.ndim != 2 or not scores.is_floating_point():
        raise ValueError(
            f"scores must be a float table shaped (images, classes); got {scores.dtype} {tuple(scores.shape)}"
        )
    if labels.ndim != 1 or labels.is_floating_point() or labels.dtype == torch.bool:
        raise ValueError(
            f"labels must be one integer class index per image; got {labels.dtype} {tuple(labels.shape)}"
        )
    if len(labels) != len(scores):
        raise ValueError(f"{len(scores)} rows of scores but {len(labels)} labels: give one label per image")
    if len(labels) and (labels.min() < 0 or labels.max() >= scores.shape[1]):
        raise ValueError(f"labels must be class indices in 0..{scores.shape[1] - 1}; got {labels.tolist()}")
    return scores, labels.long()


def true_class_rank(scores: object, labels: object) -> torch.Tensor:
    """Where each image's true class stands in its model's ranking: 1 = the top guess. Shape (images,).

    ``scores`` is (images, classes), any monotone score (logits or probabilities); ``labels`` the true
    class indices. A tie with another class counts against the true class, so a network that outputs
    the same score for every class is never "right"; with real-valued outputs ties do not happen.
    """
    scores, labels = _scores_and_labels(scores, labels)
    truth = scores.gather(1, labels[:, None])
    return (scores >= truth).sum(dim=1)  # the true class itself, plus every class scored as high or higher


def _check_k(k: object, classes: int) -> int:
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= classes:
        raise ValueError(f"k must be an integer from 1 to the number of classes ({classes}), got {k!r}")
    return k


def topk_correct(scores: object, labels: object, k: int) -> torch.Tensor:
    """Which images count as correct under top-``k``: the true class is among the ``k`` highest scores.

    ILSVRC's classification task took five guesses per image (top-5); top-1 is the usual accuracy.
    """
    ranks = true_class_rank(scores, labels)
    _check_k(k, torch.as_tensor(scores).shape[1])
    return ranks <= k


def topk_accuracy(scores: object, labels: object, k: int) -> float:
    """The fraction of images correct under top-``k``; the challenge reported the error, 1 minus this."""
    correct = topk_correct(scores, labels, k)
    if len(correct) == 0:
        raise ValueError("no images: accuracy is undefined")
    return correct.float().mean().item()


def _class_index(name: str, classes: Sequence[str]) -> int:
    if name in classes:
        return list(classes).index(name)
    close = difflib.get_close_matches(name, list(classes), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"unknown class {name!r}.{hint} The classes are: {', '.join(classes)}")


def scores_from_guesses(
    examples: Sequence[tuple[str, Mapping[str, float]]], classes: Sequence[str]
) -> tuple[torch.Tensor, torch.Tensor]:
    """A probability table from hand-written guesses, to try top-k scoring on: ``(scores, labels)``.

    Each example is ``(true class, {class: probability the model gives it})``; the classes an example
    does not name share what is left of its probability equally. Returns (examples, classes) float
    scores and the true class indices.
    """
    classes = [str(c) for c in classes]
    if len(set(classes)) != len(classes):
        raise ValueError(f"class names must be distinct: {classes}")
    scores = torch.zeros(len(examples), len(classes), dtype=torch.float64)
    labels = torch.zeros(len(examples), dtype=torch.long)
    for i, example in enumerate(examples):
        truth, guesses = example
        labels[i] = _class_index(truth, classes)
        named = torch.zeros(len(classes), dtype=torch.bool)
        for name, p in guesses.items():
            if not 0 <= p <= 1:
                raise ValueError(f"example {i}: probability of {name!r} must be in [0, 1], got {p}")
            j = _class_index(name, classes)
            scores[i, j], named[j] = p, True
        left = 1 - scores[i].sum().item()
        if left < -1e-9:
            raise ValueError(f"example {i}: the probabilities add up to {1 - left:.3g}, more than 1")
        if (~named).any():
            scores[i, ~named] = max(left, 0.0) / int((~named).sum())
    return scores, labels


@dataclass(frozen=True)
class TopKReport:
    """Each image's ranked guesses and whether it counts as correct at top-``k``; shows as an HTML table."""

    k: int
    captions: tuple[str, ...]  # what each image shows
    truths: tuple[str, ...]  # its true class
    guesses: tuple[tuple[tuple[str, float], ...], ...]  # its top guesses, best first: (class, score)
    ranks: tuple[int, ...]  # where its true class stands (1 = top guess)

    @property
    def correct(self) -> tuple[bool, ...]:
        return tuple(rank <= self.k for rank in self.ranks)

    @property
    def accuracy(self) -> float:
        return sum(self.correct) / len(self.correct)

    @property
    def summary(self) -> str:
        hits, n = sum(self.correct), len(self.correct)
        return (
            f"top-{self.k}: {hits} of {n} images correct, accuracy {hits / n:.0%}, "
            f"top-{self.k} error {1 - hits / n:.0%}"
        )

    def __repr__(self) -> str:  # what a notebook shows without HTML: the readable table, not the fields
        return str(self)

    def __str__(self) -> str:
        lines = [self.summary]
        for caption, truth, guesses, rank, ok in zip(
            self.captions, self.truths, self.guesses, self.ranks, self.correct, strict=True
        ):
            ranked = ", ".join(f"{name} {p:.0%}" for name, p in guesses)
            lines.append(f"{'correct' if ok else 'wrong  '}  {caption} [{truth}, rank {rank}]: {ranked}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        shown = len(self.guesses[0]) if self.guesses else 0
        head = "".join(f"<th>guess {j + 1}</th>" for j in range(shown))
        rows = []
        for caption, truth, guesses, rank, ok in zip(
            self.captions, self.truths, self.guesses, self.ranks, self.correct, strict=True
        ):
            cells = []
            for j, (name, p) in enumerate(guesses):
                counted = j < self.k
                # a grey that still reads at 4.5:1 (WCAG AA) on white and on the tan of a truth not counted
                style = "" if counted else "color:#595959;"
                if name == truth:
                    style += "font-weight:bold;" + (
                        "background:#c8f0c8;" if counted else "background:#f3e3c3;"
                    )
                cells.append(f'<td style="{style}">{html.escape(name)} {p:.0%}</td>')
            mark = "&#10003; correct" if ok else "&#10007; wrong"
            colour = "#1a7f1a" if ok else "#b00020"
            rows.append(
                f"<tr><td>{html.escape(caption)}</td><td><b>{html.escape(truth)}</b></td>{''.join(cells)}"
                f'<td style="text-align:center">{rank}</td><td style="color:{colour};font-weight:bold">{mark}</td></tr>'
            )
        return (
            '<table class="nets-topk">'
            f"<caption>{html.escape(self.summary)}. The first {self.k} guess{'es' if self.k > 1 else ''} count; "
            "the true class is in bold (green when it counts).</caption>"
            f"<thead><tr><th>photo</th><th>true class</th>{head}<th>rank of truth</th><th>top-{self.k}</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )


def topk_report(
    scores: object,
    labels: object,
    classes: Sequence[str],
    k: int,
    *,
    captions: Sequence[str] | None = None,
    show: int = 5,
) -> TopKReport:
    """Score each image at top-``k`` and list its ``show`` best guesses, for a table a reader can check by eye.

    ``show`` is capped at the number of classes.
    """
    scores, labels = _scores_and_labels(scores, labels)
    classes = [str(c) for c in classes]
    if len(classes) != scores.shape[1]:
        raise ValueError(f"{len(classes)} class names for {scores.shape[1]} columns of scores")
    k = _check_k(k, len(classes))
    if not isinstance(show, int) or isinstance(show, bool) or show < 1:
        raise ValueError(f"show must be a positive number of guesses, got {show!r}")
    show = min(show, len(classes))
    captions = (
        [f"image {i + 1}" for i in range(len(labels))] if captions is None else [str(c) for c in captions]
    )
    if len(captions) != len(labels):
        raise ValueError(f"{len(captions)} captions for {len(labels)} images")
    top = scores.topk(show, dim=1)
    guesses = tuple(
        tuple((classes[j], float(p)) for p, j in zip(values.tolist(), indices.tolist(), strict=True))
        for values, indices in zip(top.values, top.indices, strict=True)
    )
    return TopKReport(
        k=k,
        captions=tuple(captions),
        truths=tuple(classes[i] for i in labels.tolist()),
        guesses=guesses,
        ranks=tuple(true_class_rank(scores, labels).tolist()),
    )


# --------------------------------------------------------------------------------------------------
# WordNet: the synsets behind ImageNet's class ids
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Synset:
    """One WordNet synset as ImageNet names it: ``wnid`` = part of speech + offset in WordNet 3.0."""

    wnid: str  # e.g. "n01440764": "n" for noun, then the synset's byte offset in WordNet's noun data file
    lemmas: tuple[str, ...]  # the words that name it ("tench", "Tinca tinca")
    gloss: str  # WordNet's definition

    @property
    def pos(self) -> str:
        return {"n": "noun", "v": "verb", "a": "adjective", "s": "adjective", "r": "adverb"}[self.wnid[0]]

    @property
    def offset(self) -> int:
        return int(self.wnid[1:])


def _timm_info(filename: str) -> str:
    """One of the WordNet/ImageNet tables timm ships (timm/data/_info), as text."""
    try:
        folder = resources.files("timm.data") / "_info"
    except ModuleNotFoundError as err:
        raise RuntimeError(
            "the WordNet lemmas and glosses come from timm's copy of them, and timm is not installed: pip install timm"
        ) from err
    path = folder / filename
    if not path.is_file():
        raise RuntimeError(f"this timm has no {filename}; install timm >= 0.9 (pip install -U timm)")
    return path.read_text(encoding="utf-8")


def _table(filename: str) -> dict[str, str]:
    rows = (line.split("\t", 1) for line in _timm_info(filename).splitlines() if line.strip())
    return {wnid.strip(): text.strip() for wnid, text in rows}


def wordnet_synsets(wnids: Sequence[str]) -> list[Synset]:
    """The WordNet lemmas and gloss of each ImageNet class id (from timm's tables; needs ``timm``)."""
    lemmas, glosses = _table("imagenet_synset_to_lemma.txt"), _table("imagenet_synset_to_definition.txt")
    missing = [w for w in wnids if w not in lemmas]
    if missing:
        raise ValueError(f"not ImageNet synset ids (e.g. 'n01440764'): {missing}")
    return [Synset(w, tuple(s.strip() for s in lemmas[w].split(",")), glosses.get(w, "")) for w in wnids]


def imagenet1k_wnids() -> list[str]:
    """The 1000 ILSVRC-2012 classes' wnids in class-index order (sorted, as every ImageNet model numbers them)."""
    wnids = _timm_info("imagenet_synsets.txt").split()
    if len(wnids) != 1000 or wnids != sorted(wnids):
        raise RuntimeError(f"timm's imagenet_synsets.txt should hold 1000 sorted wnids, found {len(wnids)}")
    return wnids
