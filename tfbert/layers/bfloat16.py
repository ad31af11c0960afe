"""Forms of HF's GELU, dropout, LayerNorm and Dense bias gradients inside a bfloat16 model: faster (GELU, dropout,
LayerNorm; measured on a CPU with bfloat16 units) or more precise (bias). They apply under a bfloat16 policy on any
device.

Under `mixed_bfloat16` the matmuls run on the CPU's bfloat16 units (AMX tiles: 4x float32 on the Xeon measured;
AVX-512-bf16: 1.8x on an EPYC), so the element-wise rest of a step decides its speed, and TensorFlow's CPU kernels
for element-wise bfloat16 ops are slower than the float32 ones.
Measured on MiniLM's step (benchmarks/profile_step.py; benchmarks/bf16_forms.py times each form on and off):
    GELU      HF's form on bfloat16 took 2.4x the time of computing it in float32 (its gradient by autodiff: eight
              element-wise kernels); here it is computed in float32 with its gradient written out (Phi(x) + x phi(x)),
              each way one kernel compiled by XLA: sixteen passes over the (B, T, intermediate) activations become two.
              XLA compiles again for each new shape (about 60 ms on a CPU, once per batch length seen).
    dropout   `tf.nn.dropout` on bfloat16 draws a 32-bit random number per element and selects in bfloat16; here
              each 32-bit number gives two elements 16 random bits each, and the mask is applied by one multiply:
              the random numbers (Philox, most of dropout's time) cost half. An element is dropped with probability
              round(rate * 2**16) / 2**16, within 2**-17 of `rate`.
    bias      a Dense layer's bias gradient, its output gradient summed over the rows: TensorFlow's bfloat16
              `BiasAddGrad` loses precision over many rows, and was the step's costliest op outside the matmuls, GELU,
              dropout, LayerNorm and AdamW; here the sum is a matmul with a row of ones (oneDNN: float32
              accumulation, one rounding; tested against float64). Its time moves into the matmuls: on an AVX-512-bf16
              EPYC the timed step gained nothing beyond the repeats' spread, so this form is kept for its precision.
    LayerNorm Keras computes a bfloat16 LayerNorm in float32 (BERT's epsilon, 1e-12, rules out its fused kernel) in
              thirteen element-wise kernels and casts, and its gradient by autodiff in twenty-five more; here it is
              computed in float32 each way in one kernel compiled by XLA (the forward one keeps each row's mean and
              1 / sqrt(variance + epsilon) for the gradient), gamma's and beta's gradients summed over the rows by a
              float32 matmul (XLA's CPU column sums are slow; summing beta's in bfloat16 made MiniLM's XLA-compiled
              bf16 step 2.5x slower). XLA compiles again for each new shape (about 150 ms on a CPU, once per batch
              length seen), which a short run pays for.
Only layers computing in bfloat16 change: a float32 model runs HF's own code, bit for bit.
"""
import types

from tfbert.keras import keras, tf

SQRT_HALF, INV_SQRT_2PI = 0.7071067811865476, 0.3989422804014327


@tf.function(jit_compile=True)
def _gelu(x):
    """x * Phi(x) of a 16-bit `x`, computed in float32, in x's dtype: one XLA kernel."""
    x32 = tf.cast(x, tf.float32)
    return tf.cast(x32 * (0.5 * (1.0 + tf.math.erf(x32 * SQRT_HALF))), x.dtype)


@tf.function(jit_compile=True)
def _gelu_gradient(x, dy):
    """dy * (Phi(x) + x phi(x)), computed in float32, in x's dtype: one XLA kernel."""
    x32 = tf.cast(x, tf.float32)
    cdf = 0.5 * (1.0 + tf.math.erf(x32 * SQRT_HALF))  # Phi(x)
    pdf = INV_SQRT_2PI * tf.exp(-0.5 * tf.square(x32))  # phi(x)
    return tf.cast(tf.cast(dy, tf.float32) * (cdf + x32 * pdf), x.dtype)


@tf.custom_gradient
def float32_gelu(x):
    """Exact GELU, x * Phi(x), of a 16-bit `x` computed in float32 and cast back; its gradient in float32 too."""
    def gradient(dy):
        with tf.name_scope("gelu_gradient"):  # else it takes the name scope of where the gradient is asked for
            return _gelu_gradient(x, dy)

    with tf.name_scope("gelu"):
        return _gelu(x), gradient


def sixteen_bit_dropout(layer, inputs, training=None):
    """`Dropout.call` for a 16-bit input: its keep mask from 16 random bits an element (two from each 32-bit random
    number), applied as a multiply."""
    if not training or layer.rate == 0 or inputs.dtype == tf.float32:
        return keras.layers.Dropout.call(layer, inputs, training)
    size = tf.size(inputs)
    seed = tf.random.uniform([2], maxval=tf.int32.max, dtype=tf.int32, seed=layer.seed)  # a new one at every call
    words = tf.random.stateless_uniform([(size + 1) // 2], seed, minval=None, maxval=None, dtype=tf.uint32)
    bits = tf.reshape(tf.reshape(tf.bitcast(words, tf.uint16), [-1])[:size], tf.shape(inputs))  # shaped like inputs
    keep = bits >= round(layer.rate * 2**16)
    return inputs * tf.cast(tf.cast(keep, tf.float32) / (1 - layer.rate), inputs.dtype)


def column_sums(tensor):
    """(..., W) -> (W,): the sums over all rows, by a matmul with a row of ones (oneDNN: float32 accumulation, then
    one rounding to the tensor's dtype)."""
    rows = tf.reshape(tensor, [-1, tf.shape(tensor)[-1]])  # (rows, W)
    return tf.reshape(tf.matmul(tf.ones([1, tf.shape(rows)[0]], rows.dtype), rows), [-1])


@tf.custom_gradient
def bias_add(x, bias):
    """`tf.nn.bias_add(x, bias)` whose gradient for `bias` is a matmul: ones (1, rows) @ dy (rows, units)."""
    def gradient(dy):
        return dy, column_sums(dy)  # (units,)

    return tf.nn.bias_add(x, bias), gradient


def matmul_bias_gradient_dense(layer, inputs):
    """`Dense.call` for a 16-bit dense tensor, its bias added by `bias_add`."""
    if not layer.use_bias or not isinstance(inputs, tf.Tensor) or inputs.shape.rank is None:
        return keras.layers.Dense.call(layer, inputs)
    inputs = tf.cast(inputs, layer.compute_dtype)
    rank = inputs.shape.rank
    if rank == 2:
        outputs = tf.matmul(inputs, layer.kernel)  # (batch, units)
    else:
        outputs = tf.tensordot(inputs, layer.kernel, [[rank - 1], [0]])  # (..., units)
        outputs.set_shape(inputs.shape[:-1] + layer.kernel.shape[-1:])
    outputs = bias_add(outputs, tf.cast(layer.bias, outputs.dtype))
    return outputs if layer.activation is None else layer.activation(outputs)


@tf.function(jit_compile=True)
def _layer_norm(x, gamma, beta, epsilon):
    """LayerNorm of a 16-bit `x` over its last axis, computed in float32, in x's dtype, and the float32 mean and
    1 / sqrt(variance + epsilon) of each row (..., 1) for the gradient: one XLA kernel."""
    x32 = tf.cast(x, tf.float32)
    mean = tf.reduce_mean(x32, -1, keepdims=True)  # (..., 1)
    inverse = tf.math.rsqrt(tf.reduce_mean(tf.square(x32 - mean), -1, keepdims=True) + epsilon)  # (..., 1)
    return tf.cast((x32 - mean) * inverse * gamma + beta, x.dtype), mean, inverse


@tf.function(jit_compile=True)
def _layer_norm_gradient(x, mean, inverse, gamma, dy):
    """dL/dx in x's dtype, and (dy * x_hat, dy) side by side in float32, whose column sums are gamma's and beta's
    gradients: one XLA kernel."""
    x_hat = (tf.cast(x, tf.float32) - mean) * inverse  # (..., H)
    dy32 = tf.cast(dy, tf.float32)
    g = dy32 * gamma  # dL/dx_hat
    dx = inverse * (g - tf.reduce_mean(g, -1, keepdims=True) - x_hat * tf.reduce_mean(g * x_hat, -1, keepdims=True))
    return tf.cast(dx, x.dtype), tf.concat([dy32 * x_hat, dy32], -1)  # (..., H), (..., 2H)


def float32_layer_norm(layer, inputs):
    """`LayerNormalization.call` for a 16-bit dense tensor normalized over its last axis, with gamma and beta:
    computed in float32, each way one XLA kernel."""
    if (inputs.dtype == tf.float32 or not isinstance(inputs, tf.Tensor) or inputs.shape.rank is None
            or layer.axis != [inputs.shape.rank - 1] or not (layer.scale and layer.center)):
        return keras.layers.LayerNormalization.call(layer, inputs)

    @tf.custom_gradient
    def normalize(x, gamma, beta):
        with tf.name_scope("layer_norm"):
            y, mean, inverse = _layer_norm(x, gamma, beta, layer.epsilon)  # (..., H), (..., 1), (..., 1)

        def gradient(dy):
            with tf.name_scope("layer_norm_gradient"):
                dx, products = _layer_norm_gradient(x, mean, inverse, gamma, dy)  # (..., H), (..., 2H)
                return [dx] + tf.split(column_sums(products), 2)  # dx, gamma's (H,), beta's (H,)

        return y, gradient

    return normalize(inputs, tf.convert_to_tensor(layer.gamma), tf.convert_to_tensor(layer.beta))


def for_bfloat16(model, gelu=True, dropout=True, bias=True, layer_norm=True) -> int:
    """Gives every HF Transformer layer of `model` that computes in bfloat16 the forms above: `float32_gelu` for its
    exact GELU (`intermediate_act_fn`, as HF's TF BERT and RoBERTa have it) if `gelu`, and to its `Dropout` layers
    `sixteen_bit_dropout` if `dropout`, to its `Dense` layers `matmul_bias_gradient_dense` if `bias`, and to its
    `LayerNormalization` layers `float32_layer_norm` if `layer_norm`. Returns how many layers it changed; 0 for a
    float32 model."""
    changed = 0
    for layer in model.submodules:
        if getattr(layer, "compute_dtype", None) != "bfloat16":
            continue
        if gelu and getattr(getattr(layer, "intermediate_act_fn", None), "__name__", None) == "gelu":  # HF's exact one
            layer.intermediate_act_fn = float32_gelu
            changed += 1
        elif dropout and type(layer) is keras.layers.Dropout and layer.noise_shape is None:
            layer.call = types.MethodType(sixteen_bit_dropout, layer)
            changed += 1
        elif bias and type(layer) is keras.layers.Dense:
            layer.call = types.MethodType(matmul_bias_gradient_dense, layer)
            changed += 1
        elif layer_norm and type(layer) is keras.layers.LayerNormalization:
            layer.call = types.MethodType(float32_layer_norm, layer)
            changed += 1
    return changed
