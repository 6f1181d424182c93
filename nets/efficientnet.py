"""efficientnet: being written."""
