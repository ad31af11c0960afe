"""Models: token ids (or strings) in, logits out. `scratch`: the from-scratch Transformer classifier."""
