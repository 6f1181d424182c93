"""The architectures, one file per family, in the book's order: importing this package registers them.

Inception's four networks are a package (``inception/``: shared blocks, then one module per network).

Each family file holds the paper (docstring), the paper's table as data, the blocks, the model, the
registered factories and the key map that copies the reference weights in. Nothing a chapter measures
lives here (that is ``nets.lab``). Model files import only ``torch``, ``nets.layers``, ``nets.checks``,
``nets.registry`` and ``nets.weights``: nothing above them. Adding a family is one new file and one line
below.
"""

from . import alexnet, vgg, resnet, inception, efficientnet  # noqa: F401, I001  (the book's order)
