"""KantaiBERT: a small RoBERTa for masked language modelling, trained from scratch (HF TF classes).

The book's model: RobertaConfig(vocab_size=52000, max_position_embeddings=514, num_attention_heads=12,
num_hidden_layers=6, type_vocab_size=1) -> TFRobertaForMaskedLM, 83,504,416 parameters.
"""
import dataclasses

import numpy as np

from tfbert.keras import tf  # first: sets up Keras 2 before transformers is imported

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


def build_model(config: KantaiBertConfig) -> TFRobertaForMaskedLM:
    hf_config = RobertaConfig(**{k: v for k, v in dataclasses.asdict(config).items() if k != "block_size"})
    model = TFRobertaForMaskedLM(hf_config)
    model(model.dummy_inputs)  # creates the weights
    return model


def count_params(model) -> int:
    return int(sum(np.prod(w.shape) for w in model.weights))


def fill_mask(model, tokenizer, text: str, top_k: int = 5) -> list[dict]:
    """The `top_k` tokens for the one `<mask>` in `text`, best first: [{"token", "score"}]."""
    if text.count(tokenizer.mask_token) != 1:
        raise ValueError(f"fill_mask needs exactly one {tokenizer.mask_token} in {text!r}")
    encoded = tokenizer(text, return_tensors="tf")
    longest = model.config.max_position_embeddings - 2
    if encoded["input_ids"].shape[1] > longest:
        raise ValueError(f"{text!r} is {encoded['input_ids'].shape[1]} tokens; the model takes at most {longest}")
    position = int(tf.where(encoded["input_ids"][0] == tokenizer.mask_token_id)[0, 0])
    logits = model(encoded).logits[0, position]  # (V,)
    top = tf.math.top_k(tf.nn.softmax(logits), k=top_k)
    return [{"token": tokenizer.decode([int(i)]).strip(), "score": float(p)}
            for i, p in zip(top.indices.numpy(), top.values.numpy())]
