"""The impure edge: the trainer, its loops, checkpoints and the effect interpreter (the only torch users)."""
