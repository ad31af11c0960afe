"""The PyTorch peer of benchmarks/kantaibert_vs_torch.py: plain PyTorch + HF, run in its own venv.

Trains RobertaForMaskedLM on the exact batches the TF side trained on (read from an .npz), with AdamW
and a linear decay, then scores the held-out batches. Prints one JSON line.

    .venv-torch/bin/python benchmarks/torch_peer_mlm.py BATCHES.npz
"""
import json
import sys
import time

import numpy as np
import torch
from transformers import RobertaConfig, RobertaForMaskedLM, get_linear_schedule_with_warmup


def batches(data, split, count):
    for i in range(count):
        yield {key: torch.from_numpy(data[f"{split}{i}_{key}"]) for key in ("input_ids", "attention_mask", "labels")}


def main(path):
    data = np.load(path)
    setup = json.loads(str(data["setup"]))
    torch.manual_seed(setup["seed"])
    torch.set_num_threads(setup["threads"])
    model = RobertaForMaskedLM(RobertaConfig(**setup["model"]))
    optimizer = torch.optim.AdamW(model.parameters(), lr=setup["lr"], weight_decay=0.0)
    schedule = get_linear_schedule_with_warmup(optimizer, 0, setup["schedule_steps"])
    model.train()
    seconds, losses = [], []
    for batch in batches(data, "train", setup["train_batches"]):
        started = time.perf_counter()
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        seconds.append(time.perf_counter() - started)
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        held_out = [model(**batch).loss.item() for batch in batches(data, "held_out", setup["held_out_batches"])]
    print(json.dumps({"step_seconds": seconds, "mean_train_loss": float(np.mean(losses)),
                      "held_out_loss": float(np.mean(held_out)),
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main(sys.argv[1])
