"""nets: the ImageNet contenders as small, readable PyTorch modules.

    >>> import nets
    >>> model = nets.build("resnet50")
    >>> nets.count_params(model)
    25557032

``build(name)``, ``list_models()``, ``card(name)`` (the paper's numbers), ``count_params``,
``count_macs``; ``nets.pretrained`` converts torchvision/timm weights; ``nets.summary``, ``nets.viz``
and ``nets.widgets`` are what the book's chapters show; ``nets.data`` and ``nets.train`` train briefly.
"""

from . import (  # noqa: F401  (registers the models)
    alexnet,
    efficientnet,
    inception,
    pretrained,  # noqa: F401
    resnet,
    vgg,
)
from .cards import card
from .registry import build, list_models
from .summary import count_macs, count_params, layer_summary, paper_table

__all__ = ["build", "card", "count_macs", "count_params", "layer_summary", "list_models", "paper_table"]
__version__ = "0.1.0"
