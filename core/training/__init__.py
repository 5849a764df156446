"""Training: the Lightning stages, trainer set-up, data, checkpoints, feature cache, interrupts."""
