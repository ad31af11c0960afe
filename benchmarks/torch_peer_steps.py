"""The PyTorch peer of benchmarks/accelerators.py: the same model trained on the very same batches, in its own venv.

Reads BATCHES.npz (token-id batches exactly as the TF side trained on them, each padded to its longest row),
builds the PyTorch twin of the model, trains `passes` passes over the batches with AdamW and times each
step of the last pass. Prints one JSON line: {"step_seconds": [...], "torch": version}.

    .venv-torch/bin/python benchmarks/torch_peer_steps.py BATCHES.npz
"""
import json
import sys
import time

import numpy as np
import torch
from torch import nn


class ScratchTransformer(nn.Module):
    """The keras-io / tfbert scratch classifier: token + position embedding, one post-norm Transformer block,
    masked mean pooling, dropout, Dense(relu), dropout, logits. Padding id 0."""

    def __init__(self, vocab_size, max_length, embed_dim, num_heads, ff_dim, dropout, embedding_dropout, hidden_dim,
                 num_classes, **_):
        super().__init__()
        self.tokens, self.positions = nn.Embedding(vocab_size, embed_dim), nn.Embedding(max_length, embed_dim)
        self.embedding_dropout = nn.Dropout(embedding_dropout)
        self.attention = nn.MultiheadAttention(embed_dim, num_heads, dropout=0.0, batch_first=True)
        self.norm1, self.norm2 = nn.LayerNorm(embed_dim, eps=1e-6), nn.LayerNorm(embed_dim, eps=1e-6)
        self.ffn = nn.Sequential(nn.Linear(embed_dim, ff_dim), nn.ReLU(), nn.Linear(ff_dim, embed_dim))
        self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(embed_dim, hidden_dim), nn.ReLU(), nn.Dropout(dropout),
                                  nn.Linear(hidden_dim, num_classes))

    def forward(self, ids):
        mask = ids != 0  # (B, T)
        x = self.embedding_dropout(self.tokens(ids) + self.positions(torch.arange(ids.shape[1])))
        attended, _ = self.attention(x, x, x, key_padding_mask=~mask, need_weights=False)
        x = self.norm1(x + self.dropout1(attended))
        x = self.norm2(x + self.dropout2(self.ffn(x)))
        weights = mask.unsqueeze(-1).float()
        pooled = (x * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        return self.head(pooled)


def build(setup):
    kind = setup["kind"]
    if kind == "minilm":
        from transformers import BertForSequenceClassification
        model = BertForSequenceClassification.from_pretrained(setup["model_dir"], num_labels=4)
        return model, lambda batch: model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                          labels=batch["labels"]).loss
    if kind == "scratch":
        model = ScratchTransformer(**setup["model"])
        loss = nn.CrossEntropyLoss()
        return model, lambda batch: loss(model(batch["input_ids"]), batch["labels"])
    from transformers import RobertaConfig, RobertaForMaskedLM
    model = RobertaForMaskedLM(RobertaConfig(**setup["model"]))
    return model, lambda batch: model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                      labels=batch["labels"]).loss


def main(path):
    data = np.load(path)
    setup = json.loads(str(data["setup"]))
    torch.manual_seed(0)
    torch.set_num_threads(setup["threads"])
    model, loss_of = build(setup)
    no_decay = ("bias", "LayerNorm.weight", "norm1.weight", "norm2.weight")
    groups = [{"params": [p for n, p in model.named_parameters() if not any(k in n for k in no_decay)],
               "weight_decay": setup["weight_decay"]},
              {"params": [p for n, p in model.named_parameters() if any(k in n for k in no_decay)],
               "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=setup["lr"])
    batches = [{key: torch.from_numpy(data[f"{i}_{key}"]).long() for key in setup["keys"]}
               for i in range(setup["batches"])]
    model.train()
    for _ in range(setup["passes"]):
        seconds = []
        for batch in batches:
            started = time.perf_counter()
            loss = loss_of(batch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # as tf-models-official's AdamW does
            optimizer.step()
            optimizer.zero_grad()
            seconds.append(time.perf_counter() - started)
    print(json.dumps({"step_seconds": seconds, "torch": torch.__version__}))


if __name__ == "__main__":
    main(sys.argv[1])
