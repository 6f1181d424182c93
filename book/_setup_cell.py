# Setup: on Colab, install `nets` with the book's extras from the book's repository, check for a GPU.
# Anywhere else (your machine, the book build) this cell does nothing.
import os
import subprocess
import sys

if "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ:
    REPOSITORY = "https://github.com/imagenet-contenders/imagenet-contenders"
    PACKAGE = f"imagenet-contenders-nets[book] @ git+{REPOSITORY}"
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", PACKAGE], capture_output=True, text=True
    )
    if pip.returncode != 0:
        said = (pip.stderr or pip.stdout or "").strip().splitlines()
        raise SystemExit(
            f"Could not install nets from {REPOSITORY}: {said[-1] if said else 'pip failed'}\n"
            "Check the runtime's internet access and rerun this cell. In a fork, set REPOSITORY above "
            "to your fork's URL (and run scripts/build_book.py --sync-setup-cells)."
        )
    import torch

    if not torch.cuda.is_available():
        print(
            "WARNING: this runtime has no GPU, so training will be very slow.\n"
            "Runtime > Change runtime type > GPU (e.g. T4), then run the notebook again.",
            file=sys.stderr,
        )
