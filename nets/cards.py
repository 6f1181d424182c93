"""Model cards: what each paper reports, and what the reference implementation measures.

``card(name)`` answers "what did the paper say?" next to "what does the reference implementation
have?", so a chapter can print both beside our own computed numbers (``nets.summary.paper_table``).

Every paper number carries its source: ``paper_source`` names the table (or text) and the protocol
(crops, split), ``paper_eval`` adds what else a reader must know. The reference numbers are those of
exactly the weights ``nets.build(name, pretrained=True)`` loads (``ref_weights``, from the registry):
torchvision 0.29's weight metadata (``torchvision.models.get_weight(ref_weights).meta``; a test checks
every one) and timm 1.0 (``*.tf_in1k``). Accuracies are stored as accuracy in percent; where a paper
reports *error*, ``paper_eval`` says so and the accuracy is 100 minus the reported error.
"""

from __future__ import annotations

from dataclasses import dataclass

from .registry import entry

__all__ = ["Card", "Paper", "card"]


@dataclass(frozen=True)
class Paper:
    title: str
    authors: str
    venue: str
    year: int
    arxiv: str | None

    def __str__(self) -> str:
        arxiv = f", arXiv:{self.arxiv}" if self.arxiv else ""
        return f"{self.authors}, \u201c{self.title}\u201d, {self.venue} {self.year}{arxiv}"


@dataclass(frozen=True)
class Card:
    name: str
    year: int  # the year the architecture was published (first arXiv release)
    paper: Paper
    # What the paper reports (None where it reports nothing for this exact model).
    paper_params_m: float | None  # millions, as printed in the paper
    paper_gmacs: float | None  # billions of multiply-adds, as printed
    paper_top1: float | None  # accuracy %, single model
    paper_top5: float | None
    paper_source: str  # where in the paper, and how measured: "Table 3, 10-crop, ILSVRC-2012 val"
    paper_eval: str  # the paper's own words and anything else to know
    # The reference implementation (torchvision or timm) and its ImageNet weights.
    ref_weights: str | None  # exactly what build(name, pretrained=True) loads: "torchvision:..." / "timm:..."
    ref_source: str | None
    ref_params: int | None
    ref_gmacs: float | None
    ref_crop: int | None
    ref_top1: float | None
    ref_top5: float | None
    default_size: int
    min_size: int
    note: str = ""
    paper_params_bound: str = ""  # "<" where the paper gives a bound ("less than 25 million"), not a count

    @property
    def paper_params_text(self) -> str | None:
        """The paper's parameter count as the paper states it: "138 M", "< 25 M"."""
        if self.paper_params_m is None:
            return None
        return f"{self.paper_params_bound + ' ' if self.paper_params_bound else ''}{self.paper_params_m:g} M"


ALEXNET = Paper(
    "ImageNet Classification with Deep Convolutional Neural Networks",
    "Krizhevsky, Sutskever, Hinton",
    "NIPS",  # Advances in Neural Information Processing Systems 25; the conference became NeurIPS in 2018
    2012,
    None,
)
VGG = Paper(
    "Very Deep Convolutional Networks for Large-Scale Image Recognition",
    "Simonyan, Zisserman",
    "ICLR",
    2015,
    "1409.1556",
)
GOOGLENET = Paper("Going Deeper with Convolutions", "Szegedy et al.", "CVPR", 2015, "1409.4842")
RESNET = Paper(
    "Deep Residual Learning for Image Recognition", "He, Zhang, Ren, Sun", "CVPR", 2016, "1512.03385"
)
INCEPTION_V3 = Paper(
    "Rethinking the Inception Architecture for Computer Vision", "Szegedy et al.", "CVPR", 2016, "1512.00567"
)
INCEPTION_V4 = Paper(
    "Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning",
    "Szegedy, Ioffe, Vanhoucke, Alemi",
    "AAAI",
    2017,
    "1602.07261",
)
EFFICIENTNET = Paper(
    "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks",
    "Tan, Le",
    "ICML",
    2019,
    "1905.11946",
)


# fmt: off

# name: (year, paper, paper params M, paper GMACs, paper top-1 acc, top-5 acc, paper source (table and
#        protocol), the paper's words / what to know, ref params, ref GMACs, ref crop, ref top-1, ref top-5, note)
_ROWS: dict[str, tuple] = {
    "alexnet": (
        2012, ALEXNET, 60.0, None, 100 - 40.7, 100 - 18.2,
        "Table 2 (1 CNN), ILSVRC-2012 val, average over 10 patches; parameters: the abstract",
        "the paper's numbers are for its two-GPU original: 1 CNN, top-1/top-5 error 40.7/18.2; '60 million parameters'",
        61_100_840, 0.714, 224, 56.522, 79.066,
        "torchvision's one-GPU variant, 64-192-384-256-256 channels with no LRN: cuda-convnet2's one-GPU "
        "configuration (pytorch/vision issue 704), not 'One weird trick' (arXiv 1404.5997: 64-192-384-384-256)",
    ),
    "alexnet2012": (
        2012, ALEXNET, 60.0, None, 100 - 40.7, 100 - 18.2,
        "Table 2 (1 CNN), ILSVRC-2012 val, average over 10 patches; parameters: the abstract",
        "1 CNN, top-1/top-5 error 40.7/18.2; '60 million parameters'",
        None, None, None, None, None,
        "the paper's two-tower original; no reference weights exist (the exact count 60,965,224 is layer arithmetic)",
    ),
}

_VGG = {  # name: (paper params M, GMACs quoted by He et al. 2015, top-1 err, top-5 err, ref params, GMACs, top1, top5)
    "vgg11": (133.0, None, 29.6, 10.4, 132_863_336, 7.609, 69.020, 88.628),
    "vgg11_bn": (133.0, None, 29.6, 10.4, 132_868_840, 7.609, 70.370, 89.810),
    "vgg13": (133.0, None, 28.7, 9.9, 133_047_848, 11.308, 69.928, 89.246),
    "vgg13_bn": (133.0, None, 28.7, 9.9, 133_053_736, 11.308, 71.586, 90.374),
    "vgg16": (138.0, 15.3, 27.0, 8.8, 138_357_544, 15.470, 71.592, 90.382),
    "vgg16_bn": (138.0, 15.3, 27.0, 8.8, 138_365_992, 15.470, 73.360, 91.516),
    "vgg19": (144.0, 19.6, 27.3, 9.0, 143_667_240, 19.632, 72.376, 90.876),
    "vgg19_bn": (144.0, 19.6, 27.3, 9.0, 143_678_248, 19.632, 74.218, 91.842),
}
_VGG_CONFIG = {"vgg11": "A", "vgg13": "B", "vgg16": "D", "vgg19": "E"}
for _name, (_pm, _gm, _e1, _e5, _rp, _rg, _t1, _t5) in _VGG.items():
    _cfg = _VGG_CONFIG[_name.removesuffix("_bn")]
    _ROWS[_name] = (
        2014, VGG, _pm, _gm, 100 - _e1, 100 - _e5,
        "Table 3, single test scale Q=256 (train scale S=256), ILSVRC-2012 val; parameters: Table 2; "
        "GMACs: He et al. 2015, Sec. 4.1 (and Sec. 3.3 / Fig. 3 for VGG-19)" if _gm else
        "Table 3, single test scale Q=256 (train scale S=256), ILSVRC-2012 val; parameters: Table 2",
        f"configuration {_cfg}, top-1/top-5 error {_e1}/{_e5}"
        + ("; the paper has no BatchNorm: these are the plain configuration's numbers" if "_bn" in _name else ""),
        _rp, _rg, 224, _t1, _t5, "",
    )

_RESNET = {  # depth: (paper GMACs, 10-crop top-1 err, top-5 err, table, ref params, ref GMACs, top1, top5)
    18: (1.8, 27.88, None, "Table 2", 11_689_512, 1.814, 69.758, 89.078),
    34: (3.6, 24.52, 7.46, "Table 3", 21_797_672, 3.664, 73.314, 91.420),
    50: (3.8, 22.85, 6.71, "Table 3", 25_557_032, 4.089, 76.130, 92.862),
    101: (7.6, 21.75, 6.05, "Table 3", 44_549_160, 7.801, 77.374, 93.546),
    152: (11.3, 21.43, 5.71, "Table 3", 60_192_808, 11.514, 78.312, 94.046),
}
for _depth, (_gm, _e1, _e5, _table, _rp, _rg, _t1, _t5) in _RESNET.items():
    _ROWS[f"resnet{_depth}"] = (
        2015, RESNET, None, _gm, 100 - _e1, None if _e5 is None else 100 - _e5,
        f"{_table}, 10-crop testing, ILSVRC-2012 val; GMACs: Table 1 ('FLOPs' there are multiply-adds)",
        f"10-crop top-1{'' if _e5 is None else '/top-5'} error {_e1}{'' if _e5 is None else f'/{_e5}'}"
        + ("; Table 2 has only top-1 and only option A (zero-padding shortcuts) for 18 layers" if _depth == 18
           else "; ResNet-34 with option B shortcuts (projections where the shape changes), as nets builds it;"
                " Table 3 also gives A 25.03/7.76 and C 24.19/7.40" if _depth == 34 else "")
        + "; the paper tabulates no parameter counts",
        _rp, _rg, 224, _t1, _t5,
        "torchvision's V1.5: the stride sits on the 3x3 conv, which costs more MACs than the paper's V1"
        if _depth >= 50 else "",
    )

_ROWS |= {
    "googlenet": (
        2014, GOOGLENET, None, 1.5, None, 100 - 10.07,
        "Table 5, 1 model and 1 crop (224 px), ILSVRC-2014 val; MACs: Section 1 (introduction)",
        "top-5 error 10.07%; top-1 not reported; '1.5 billion multiply-adds at inference time'",
        6_624_904, 1.498, 224, 69.778, 89.530,
        "torchvision's layout uses 3x3 convs in the '5x5' branch (pytorch/vision#906); paper_5x5=True gives the paper's",
    ),
    "inception_v3": (
        2015, INCEPTION_V3, 25.0, 5.0, 100 - 21.2, 100 - 5.6,
        "Table 3 (last row), single model and single crop at 299 px, ILSVRC-2012 val; parameters and MACs: "
        "the abstract",
        "top-1/top-5 error 21.2/5.6 ('Inception-v3', BN-auxiliary); 'less than 25 million parameters', "
        "'5 billion multiply-adds'; Table 4 is multi-crop",
        27_161_264, 5.713, 299, 77.294, 93.450,
        "torchvision's count includes the auxiliary head (23,834,568 without)",
        "<",
    ),
    "inception_v4": (
        2016, INCEPTION_V4, None, None, 100 - 20.0, 100 - 5.0,
        "Table 2, single model and single crop at 299 px, ILSVRC-2012 val",
        "top-1/top-5 error 20.0/5.0; no params or MACs given",
        42_679_816, 12.28, 299, 80.144, 94.982,
        "",
    ),
    "inception_resnet_v2": (
        2016, INCEPTION_V4, None, None, 100 - 19.9, 100 - 4.9,
        "Table 2, single model and single crop, ILSVRC-2012 val",
        "top-1/top-5 error 19.9/4.9; no params or MACs given",
        55_843_464, 13.18, 299, 80.434, 95.312,
        "",
    ),
}

_EFFICIENTNET = {  # b: (paper params M, paper GMACs, top-1, top-5 (Table 2), ref params, GMACs, crop, top1, top5)
    0: (5.3, 0.39, 77.1, 93.3, 5_288_548, 0.386, 224, 77.692, 93.532),
    1: (7.8, 0.70, 79.1, 94.4, 7_794_184, 0.687, 240, 78.642, 94.186),
    2: (9.2, 1.0, 80.1, 94.9, 9_109_994, 1.088, 288, 80.608, 95.310),
    3: (12.0, 1.8, 81.6, 95.7, 12_233_232, 1.827, 300, 82.008, 96.054),
    4: (19.0, 4.2, 82.9, 96.4, 19_341_616, 4.394, 380, 83.384, 96.594),
    5: (30.0, 9.9, 83.6, 96.7, 30_389_784, 10.266, 456, 83.444, 96.628),
    6: (43.0, 19.0, 84.0, 96.8, 43_040_704, 19.068, 528, 84.008, 96.916),
    7: (66.0, 37.0, 84.3, 97.0, 66_347_960, 37.746, 600, 84.122, 96.908),
}
for _b, (_pm, _gm, _t1, _t5, _rp, _rg, _crop, _r1, _r5) in _EFFICIENTNET.items():
    _ROWS[f"efficientnet_b{_b}"] = (
        2019, EFFICIENTNET, _pm, _gm, _t1, _t5,
        "Table 2, single model and single crop, ILSVRC-2012 val",
        "top-1/top-5 accuracy; 'FLOPS' there are multiply-adds",
        _rp, _rg, _crop, _r1, _r5,
        "torchvision's weights are evaluated at their own crop, which differs from the paper's resolution for B2"
        if _b == 2 else "",
    )

# fmt: on


def _ref_source(weights: str | None) -> str | None:
    if weights is None:
        return None
    source, _, tag = weights.partition(":")
    return f"{'torchvision 0.29' if source == 'torchvision' else 'timm 1.0'}, {tag}"


def card(name: str) -> Card:
    """The model card for ``name``: the paper's numbers next to the reference implementation's."""
    e = entry(name)  # raises ValueError with suggestions for an unknown name
    if e.name not in _ROWS:
        raise ValueError(f"no card for {e.name!r} yet; cards exist for: {', '.join(_ROWS)}")
    year, paper, pm, gm, t1, t5, source, how, rp, rg, crop, r1, r5, note, *bound = _ROWS[e.name]
    return Card(
        name=e.name,
        year=year,
        paper=paper,
        paper_params_m=pm,
        paper_gmacs=gm,
        paper_top1=None if t1 is None else round(t1, 2),
        paper_top5=None if t5 is None else round(t5, 2),
        paper_source=source,
        paper_eval=how,
        ref_weights=e.weights,
        ref_source=_ref_source(e.weights),
        ref_params=rp,
        ref_gmacs=rg,
        ref_crop=crop,
        ref_top1=r1,
        ref_top5=r5,
        default_size=e.default_size,
        min_size=e.min_size,
        note=note,
        paper_params_bound=bound[0] if bound else "",
    )
