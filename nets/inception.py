"""inception: being written."""
