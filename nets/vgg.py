"""vgg: being written."""
