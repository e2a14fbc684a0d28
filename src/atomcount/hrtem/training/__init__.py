"""Training: on-the-fly data streams, losses, loops and checkpoints."""
