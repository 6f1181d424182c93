# Setup. On Colab: install `nets` from the book's repository and check for a GPU. Elsewhere: nothing to do.
import os
import subprocess
import sys

if "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ:
    REPOSITORY = "https://github.com/imagenet-contenders/imagenet-contenders"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", f"git+{REPOSITORY}"], check=True)
    import torch

    if not torch.cuda.is_available():
        print(
            "WARNING: this Colab runtime has no GPU, so training cells will be very slow.\n"
            "Choose Runtime > Change runtime type > GPU (e.g. T4), then run this notebook again.",
            file=sys.stderr,
        )
