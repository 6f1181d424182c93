# Setup: on Colab, install `nets` from the book's repository and check for a GPU.
# Anywhere else (your machine, the book build) this cell does nothing.
import os
import subprocess
import sys

if "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ:
    REPOSITORY = "https://github.com/imagenet-contenders/imagenet-contenders"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"git+{REPOSITORY}"], check=True)
    import torch

    if not torch.cuda.is_available():
        print(
            "WARNING: this runtime has no GPU, so training will be very slow.\n"
            "Runtime > Change runtime type > GPU (e.g. T4), then run the notebook again.",
            file=sys.stderr,
        )
