"""nets: the ImageNet contenders as small, readable PyTorch modules.

    >>> import nets
    >>> model = nets.build("resnet50")
    >>> nets.count_params(model)
    25557032

``build(name)``, ``list_models()``, ``card(name)`` (the paper's numbers), ``count_params``,
``count_macs``, ``layer_summary`` and ``paper_table``. The architectures live in ``nets.models``
(one file per family), reference-weight conversion in ``nets.zoo`` (``from_torchvision``,
``from_timm``) and ``nets.weights``; what the chapters measure is in ``nets.lab``, what they draw in
``nets.viz`` and ``nets.widgets``; ``nets.data`` and ``nets.train`` train briefly.
Importing ``nets`` loads torch and torchvision only: the book's plotting and table libraries are
imported by the modules that draw.
"""

from .cards import card
from .registry import list_models
from .summary import count_macs, count_params, layer_summary, paper_table
from .zoo import build

__all__ = ["build", "card", "count_macs", "count_params", "layer_summary", "list_models", "paper_table"]
__version__ = "0.1.0"
