"""Faster forms of HF's GELU and dropout inside a bfloat16 model, on a CPU with bfloat16 units.

Under `mixed_bfloat16` the matmuls run on AMX tiles (4x float32 on the Xeon measured), so the element-wise rest of a
step decides its speed, and TensorFlow's CPU kernels for element-wise bfloat16 ops are slower than the float32 ones.
Measured on MiniLM's step (benchmarks/profile_step.py; benchmarks/bf16_forms.py times each form on and off):
    GELU     HF's form (eight element-wise kernels forward and back) took 2.4x as long on bfloat16 as on float32;
             here it is computed in float32 and compiled with XLA into one kernel each way, casts included
    dropout  `tf.nn.dropout` on bfloat16 draws bfloat16 random numbers and selects; here the mask is drawn in
             float32 and applied by one multiply
Only layers computing in bfloat16 change: a float32 model runs HF's own code, bit for bit.
"""
import types

from tfbert.keras import keras, tf


def float32_activation(activation):
    """`activation` computed in float32 for a 16-bit input and cast back, in one XLA kernel (and one for its
    gradient); a float32 input takes `activation` itself."""
    @tf.function(jit_compile=True, reduce_retracing=True)
    def compiled(x):
        return tf.cast(activation(tf.cast(x, tf.float32)), x.dtype)

    def activate(x):
        return activation(x) if x.dtype == tf.float32 else compiled(x)

    activate.__name__ = f"float32_{getattr(activation, '__name__', 'activation')}"
    return activate


def float32_mask_dropout(layer, inputs, training=None):
    """`Dropout.call` with the keep mask drawn in float32 and applied as a multiply (for a 16-bit input)."""
    if not training or layer.rate == 0 or inputs.dtype == tf.float32:
        return keras.layers.Dropout.call(layer, inputs, training)
    keep = tf.random.uniform(tf.shape(inputs), dtype=tf.float32, seed=layer.seed) >= layer.rate  # like inputs
    return inputs * tf.cast(tf.cast(keep, tf.float32) / (1 - layer.rate), inputs.dtype)


def for_bfloat16(model, gelu=True, dropout=True) -> int:
    """Gives every HF Transformer layer of `model` that computes in bfloat16 the forms above: its activation
    (`intermediate_act_fn`, as HF's TF BERT and RoBERTa have it) in float32 under XLA (`gelu`), and its `Dropout`
    layers a float32 mask (`dropout`). Returns how many layers it changed; 0 for a float32 model."""
    changed = 0
    for layer in model.submodules:
        if getattr(layer, "compute_dtype", None) != "bfloat16":
            continue
        if gelu and hasattr(layer, "intermediate_act_fn"):
            layer.intermediate_act_fn = float32_activation(layer.intermediate_act_fn)
            changed += 1
        elif dropout and type(layer) is keras.layers.Dropout and layer.noise_shape is None:
            layer.call = types.MethodType(float32_mask_dropout, layer)
            changed += 1
    return changed
