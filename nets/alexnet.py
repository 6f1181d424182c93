"""alexnet: being written."""
