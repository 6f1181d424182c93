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
  numbers the chapters reproduce are higher (e.g. AlexNet, one CNN: 18.2% top-5 error on val).
* SuperVision's 15.3% used extra training data (ImageNet Fall 2011); with the supplied data only it
  was 16.4% (ILSVRC2012 results page).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ENTRIES", "HUMAN", "HumanEstimate", "ILSVRCEntry", "runners_up", "winners"]

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
