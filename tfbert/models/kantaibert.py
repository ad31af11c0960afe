"""KantaiBERT: a small RoBERTa for masked language modelling, trained from scratch (HF TF classes).

The book's model: RobertaConfig(vocab_size=52000, max_position_embeddings=514, num_attention_heads=12,
num_hidden_layers=6, type_vocab_size=1) -> TFRobertaForMaskedLM, 83,504,416 parameters.
"""
import dataclasses

import numpy as np

from tfbert.data.mlm import IGNORE
from tfbert.keras import keras, tf  # first: sets up Keras 2 before transformers is imported
from tfbert.layers.bfloat16 import for_bfloat16

from transformers import RobertaConfig, TFRobertaForMaskedLM  # noqa: E402


@dataclasses.dataclass
class KantaiBertConfig:
    vocab_size: int = 52_000  # the tokenizer's target size
    max_position_embeddings: int = 514  # 512 positions + 2: RoBERTa's position ids start after the padding id
    num_attention_heads: int = 12
    num_hidden_layers: int = 6
    type_vocab_size: int = 1
    hidden_size: int = 768  # RobertaConfig's default, as in the book
    intermediate_size: int = 3072
    block_size: int = 128  # lines are cut to this many tokens (the book's LineByLineTextDataset block_size)


PRESETS = {
    "book": KantaiBertConfig(),
    # Same code path, small odd numbers: for tests and quick CPU runs.
    "tiny": KantaiBertConfig(vocab_size=300, max_position_embeddings=130, num_attention_heads=3,
                             num_hidden_layers=2, hidden_size=24, intermediate_size=37, block_size=64),
}


class KantaiBert(TFRobertaForMaskedLM):
    """`TFRobertaForMaskedLM` whose training and evaluation steps score only the chosen tokens.

    HF's step projects every position onto the 52,000-token vocabulary, the largest matrix product of a
    step, then ignores the ~85% of positions whose label is -100. Here the chosen positions are gathered
    first, so the projection runs on ~15% of the tokens. The loss is the same (mean cross-entropy over the
    chosen tokens), the weights are the same (`save_pretrained`, then `TFRobertaForMaskedLM.from_pretrained`),
    and `call` (inference, fill-mask) is HF's own.
    """

    def __init__(self, config, *inputs, **kwargs):
        super().__init__(config, *inputs, **kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")  # the epoch's mean, reset by fit

    def chosen_token_loss(self, features, training=False):
        """The mean cross-entropy over the chosen tokens, float32 under a mixed policy too.

        Static shapes (`mlm.mlm_batches` with `pad_lengths`): the batch lists a fixed number M of positions per
        batch shape, so XLA compiles it; otherwise M is however many tokens were chosen.
        """
        labels = features["labels"]  # (B, T), IGNORE where not chosen
        sequence = self.roberta(input_ids=features["input_ids"], attention_mask=features["attention_mask"],
                                training=training)[0]  # (B, T, H)
        if "chosen" not in features:
            chosen = tf.where(labels != IGNORE)  # (M, 2) positions
            scores = tf.cast(self.lm_head(tf.gather_nd(sequence, chosen)[None])[0], tf.float32)  # (M, V)
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.gather_nd(labels, chosen), scores)  # (M,)
            return tf.reduce_mean(losses)
        positions, weights = features["chosen"], features["chosen_weights"]  # (M,) each; weight 0: padding
        hidden = tf.gather(tf.reshape(sequence, [-1, sequence.shape[-1]]), positions)  # (M, H)
        scores = tf.cast(self.lm_head(hidden[None])[0], tf.float32)  # (M, V)
        targets = tf.maximum(tf.gather(tf.reshape(labels, [-1]), positions), 0)  # (M,) padding's IGNORE -> 0
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(targets, scores)  # (M,)
        return tf.math.divide_no_nan(tf.reduce_sum(losses * weights), tf.reduce_sum(weights))

    def train_step(self, data):
        with tf.GradientTape() as tape:
            loss = self.chosen_token_loss(data, training=True)
            scaled = loss / self.distribute_strategy.num_replicas_in_sync  # replicas' gradients are summed
        self.optimizer.minimize(scaled, self.trainable_variables, tape=tape)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        self.loss_tracker.update_state(self.chosen_token_loss(data))
        return {"loss": self.loss_tracker.result()}


def build_model(config: KantaiBertConfig, model_class=KantaiBert) -> TFRobertaForMaskedLM:
    """A new, randomly initialised model (`model_class=TFRobertaForMaskedLM` for HF's own training step)."""
    hf_config = RobertaConfig(**{k: v for k, v in dataclasses.asdict(config).items() if k != "block_size"})
    model = model_class(hf_config)
    model(model.dummy_inputs)  # creates the weights
    for_bfloat16(model)  # under mixed_bfloat16 only: GELU, dropout, LayerNorm faster; bias gradients in float32
    return model


def count_params(model) -> int:
    """Parameters of the network (not the loss tracker's running sums)."""
    tracker = {id(v) for v in getattr(model, "loss_tracker", keras.metrics.Mean()).variables}
    return int(sum(np.prod(w.shape) for w in model.weights if id(w) not in tracker))


def fill_mask(model, tokenizer, text: str, top_k: int = 5) -> list[dict]:
    """The `top_k` tokens for the one `<mask>` in `text`, best first: [{"token", "score"}]."""
    if text.count(tokenizer.mask_token) != 1:
        raise ValueError(f"fill_mask needs exactly one {tokenizer.mask_token} in {text!r}")
    encoded = tokenizer(text, return_tensors="tf")
    longest = model.config.max_position_embeddings - 2
    if encoded["input_ids"].shape[1] > longest:
        raise ValueError(f"{text!r} is {encoded['input_ids'].shape[1]} tokens; the model takes at most {longest}")
    position = int(tf.where(encoded["input_ids"][0] == tokenizer.mask_token_id)[0, 0])
    logits = tf.cast(model(encoded).logits[0, position], tf.float32)  # (V,)
    top = tf.math.top_k(tf.nn.softmax(logits), k=top_k)
    return [{"token": tokenizer.decode([int(i)]).strip(), "score": float(p)}
            for i, p in zip(top.indices.numpy(), top.values.numpy())]
