"""GELU in float32 inside a bfloat16 model: on a CPU with AMX, HF's GELU on a bfloat16 tensor took 2.4x the time of
casting to float32, computing there and casting back (2.1x with its gradient), and it was a quarter of a
mixed_bfloat16 fine-tuning step of MiniLM (benchmarks/profile_step.py). Under float32 nothing changes."""
from tfbert.keras import tf


def float32_activation(activation):
    """`activation` computed in float32 for a 16-bit input, its result cast back to the input's dtype."""
    def activate(x):
        if x.dtype == tf.float32:
            return activation(x)
        return tf.cast(activation(tf.cast(x, tf.float32)), x.dtype)

    activate.__name__ = f"float32_{getattr(activation, '__name__', 'activation')}"
    return activate


def gelu_in_float32(model) -> int:
    """Makes every HF Transformer layer of `model` that computes in bfloat16 (`intermediate_act_fn`, as HF's TF BERT
    and RoBERTa have it) take its activation in float32. Returns how many layers it changed."""
    changed = 0
    for layer in model.submodules:
        if hasattr(layer, "intermediate_act_fn") and getattr(layer, "compute_dtype", None) == "bfloat16":
            layer.intermediate_act_fn = float32_activation(layer.intermediate_act_fn)
            changed += 1
    return changed
