"""resnet: being written."""
