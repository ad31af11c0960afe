"""AdamW with linear warmup and linear decay, counted in optimizer steps (batches), not examples.

Built from `official.nlp.optimization` (its `AdamWeightDecay` and `WarmUp`). One difference from its
`create_optimizer`: there the linear decay runs from step 0, so when warmup ends the rate is already
down to `(1 - warmup/total) * peak`. Here the decay starts when warmup ends, as in BERT fine-tuning
recipes: the rate rises linearly to `peak_lr` at exactly `warmup_steps`, then falls linearly to
`end_lr` at `train_steps`.

tf-models-official's `AdamWeightDecay` also clips the gradients to a global norm of 1.0 before each step, as BERT's
original optimizer did (here under mixed_float16's loss scaling too, see `AdamWeightDecay`), and adds Adam's
epsilon in Keras' form (see `create_adamw`).

The textbook passed the number of *examples* where steps are expected, so its warmup never ended and
its learning rate never exceeded 7.8e-7; `train_steps()` computes the step count from batches.
"""
import math

from official.nlp import optimization

from tfbert.keras import keras, register, tf

# Variables whose names contain any of these get no weight decay: biases and LayerNorm scales/offsets
# (HF names them ".../LayerNorm/...", tf-models-official and tfbert ".../*layer_norm/...").
NO_WEIGHT_DECAY = ("LayerNorm", "layer_norm", "bias")


def train_steps(num_examples: int, batch_size: int, epochs: int) -> int:
    """Optimizer steps in a run: batches per epoch (the last one may be smaller) times epochs."""
    return math.ceil(num_examples / batch_size) * epochs


@register
class LinearDecayAfterWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """`peak_lr` at `warmup_steps`, falling linearly to `end_lr` at `train_steps` (and staying there)."""

    def __init__(self, peak_lr, train_steps, warmup_steps, end_lr=0.0):
        if not 0 <= warmup_steps < train_steps:
            raise ValueError(f"need 0 <= warmup_steps < train_steps, got {warmup_steps} and {train_steps}")
        self.peak_lr, self.train_steps, self.warmup_steps, self.end_lr = peak_lr, train_steps, warmup_steps, end_lr

    def __call__(self, step):
        done = (tf.cast(step, tf.float32) - self.warmup_steps) / (self.train_steps - self.warmup_steps)
        done = tf.clip_by_value(done, 0.0, 1.0)
        return self.peak_lr + (self.end_lr - self.peak_lr) * done

    def get_config(self):
        return {
            "peak_lr": self.peak_lr,
            "train_steps": self.train_steps,
            "warmup_steps": self.warmup_steps,
            "end_lr": self.end_lr,
        }


@register
class AdamWeightDecay(optimization.AdamWeightDecay):
    """tf-models-official's AdamW, which clips the gradients under a `LossScaleOptimizer` (mixed_float16) too.

    Its `apply_gradients` clips only when it aggregates the replicas' gradients itself. Keras' loss-scale
    wrapper aggregates (and unscales) them first and then calls it with `experimental_aggregate_gradients=False`,
    so under mixed_float16 the original silently trains without clipping. Here the already aggregated
    gradients are clipped in that case: the same step as in float32.
    """

    def apply_gradients(self, grads_and_vars, name=None, experimental_aggregate_gradients=True):
        grads, variables = list(zip(*grads_and_vars))
        if not experimental_aggregate_gradients and self.gradient_clip_norm > 0.0:
            grads, _ = tf.clip_by_global_norm(grads, clip_norm=self.gradient_clip_norm)
        return super().apply_gradients(zip(grads, variables), name, experimental_aggregate_gradients)

    def _resource_apply_sparse(self, grad, var, indices, apply_state=None):
        """Keras' sparse Adam step (an embedding's rows of `grad`), with the rows added to tensors, not scattered
        into the variables: the same numbers, bit for bit. A scatter into a variable makes TensorFlow copy it at
        every later read (its copy-on-read mode), and an embedding's slots are large (MiniLM: 11.7 M weights)."""
        if self.amsgrad:
            return super()._resource_apply_sparse(grad, var, indices, apply_state)
        lr_t, _ = self._get_lr(var.device, var.dtype.base_dtype, apply_state)
        decay = self._decay_weights_op(var, lr_t, apply_state)
        coefficients = (apply_state or {}).get((var.device, var.dtype.base_dtype)) or \
            self._fallback_apply_state(var.device, var.dtype.base_dtype)
        rows = indices[:, tf.newaxis]  # (N, 1): the rows of `grad` (N, width), each once
        m, v = self.get_slot(var, "m"), self.get_slot(var, "v")
        with tf.control_dependencies([decay]):
            m_t = tf.tensor_scatter_nd_add(m * coefficients["beta_1_t"], rows, grad * coefficients["one_minus_beta_1_t"])
            v_t = tf.tensor_scatter_nd_add(v * coefficients["beta_2_t"], rows,
                                           (grad * grad) * coefficients["one_minus_beta_2_t"])
            step = coefficients["lr"] * m_t / (tf.sqrt(v_t) + coefficients["epsilon"])
            return tf.group(m.assign(m_t, use_locking=self._use_locking), v.assign(v_t, use_locking=self._use_locking),
                            var.assign_sub(step, use_locking=self._use_locking))


def create_adamw(peak_lr, train_steps, warmup_steps, weight_decay=0.01, end_lr=0.0, epsilon=1e-6):
    """AdamW (decoupled weight decay, none on `NO_WEIGHT_DECAY` variables) with warmup + linear decay.

    Args:
        peak_lr: the rate at the end of warmup.
        train_steps: all optimizer steps of the run (see `train_steps()`).
        warmup_steps: steps of linear warmup from 0; 0 for none.
        weight_decay: decoupled weight decay rate.
        end_lr: the rate at the last step.
        epsilon: Adam's epsilon, added to sqrt(v) *before* bias correction (Keras' form). PyTorch adds its
            epsilon after, so Keras' 1e-6 acts like PyTorch's 1e-6 / sqrt(1 - 0.999**step): 3e-5 at step 1.
    """
    schedule = LinearDecayAfterWarmup(peak_lr, train_steps, warmup_steps, end_lr)
    if warmup_steps:
        schedule = optimization.WarmUp(peak_lr, decay_schedule_fn=schedule, warmup_steps=warmup_steps)
    return AdamWeightDecay(
        learning_rate=schedule,
        weight_decay_rate=weight_decay,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=epsilon,
        exclude_from_weight_decay=list(NO_WEIGHT_DECAY),
    )
