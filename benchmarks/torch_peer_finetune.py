"""The PyTorch peer of benchmarks/finetune_vs_torch.py: plain PyTorch + HF, run in its own venv.

Fine-tunes BertForSequenceClassification (MiniLM) on the given batches of texts, each padded to its
longest text (HF tokenizer, padding=True, tokenized before timing starts), AdamW lr 5e-5 with 10 % warmup and linear decay, no weight
decay on bias and LayerNorm. Prints one JSON line with examples/s over the steps after the first two.

    .venv-torch/bin/python benchmarks/torch_peer_finetune.py SETUP.json random|buckets
"""
import json
import sys
import time

import torch
from transformers import BertForSequenceClassification, BertTokenizerFast, get_linear_schedule_with_warmup


def main(path, order):
    setup = json.loads(open(path).read())
    torch.manual_seed(0)
    torch.set_num_threads(setup["threads"])
    tokenizer = BertTokenizerFast.from_pretrained(setup["model"])
    model = BertForSequenceClassification.from_pretrained(setup["model"], num_labels=4)
    no_decay = ("bias", "LayerNorm.weight")
    groups = [{"params": [p for n, p in model.named_parameters() if not any(k in n for k in no_decay)],
               "weight_decay": 0.01},
              {"params": [p for n, p in model.named_parameters() if any(k in n for k in no_decay)],
               "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=5e-5)
    schedule = get_linear_schedule_with_warmup(optimizer, setup["total_steps"] // 10, setup["total_steps"])
    batches = [(tokenizer([setup["texts"][i] for i in batch], padding=True, truncation=True, max_length=128,
                          return_tensors="pt"), torch.tensor([setup["labels"][i] for i in batch]))
               for batch in setup["orders"][order]]  # tokenized before the clock starts: the peer's best case
    model.train()
    seconds, sizes = [], []
    for inputs, labels in batches:
        started = time.perf_counter()
        loss = model(**inputs, labels=labels).loss
        loss.backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        seconds.append(time.perf_counter() - started)
        sizes.append(len(labels))
    print(json.dumps({"examples_per_second": sum(sizes[2:]) / sum(seconds[2:]), "torch": torch.__version__}))


if __name__ == "__main__":
    main(*sys.argv[1:])
