"""nets: the ImageNet contenders as small, readable PyTorch modules.

    >>> import nets
    >>> model = nets.build("resnet50")
    >>> nets.count_params(model)
    25557032
"""

from . import alexnet, efficientnet, inception, resnet, vgg  # noqa: F401  (registers the models)
from .registry import build, list_models
from .summary import count_macs, count_params

__all__ = ["build", "count_macs", "count_params", "list_models"]
__version__ = "0.1.0"
