"""Look inside a trained classifier: attention per layer and head, token attributions, a map of its features.

    explainer = interpret.from_run("runs/agnews/hf_finetune")                     # or runs/agnews/scratch
    tokens, attention = explainer.attention("Stocks rally as oil prices fall")      # (L, heads, T, T)
    why = explainer.attributions("Stocks rally as oil prices fall")                # why.scores: (T,)
    plots.plot_attention(tokens, attention, "attention.png")       # tfbert.plots: every picture

Attributions are integrated gradients (Sundararajan et al., 2017) of the predicted class's logit with
respect to the word embeddings, from a baseline (BERT: [CLS] and [SEP] kept, [PAD] everywhere else; the
from-scratch model: zero vectors, positions kept); they sum to logit(text) - logit(baseline), up to
`delta`, the error of the integral's `steps`-point estimate. The features mapped in 2-D are what the
classifier's head reads (BERT's pooled output; the scratch model's mean-pooled block output), projected
on their two principal components.

HF runs (`hf_frozen`, `hf_finetune`, CoLA's `tuned`) and the from-scratch AG News model (`scratch`, one
Transformer block: L = 1). Not TF-Hub runs: their encoder SavedModels return no attention and take ids,
not embeddings.
"""
from tfbert.interpret.explainers import (Attribution, BertExplainer, Explainer, MaskedLMExplainer, ScratchExplainer,
                                         from_run, integrated_gradients, run_data)

__all__ = ["Attribution", "BertExplainer", "Explainer", "MaskedLMExplainer", "ScratchExplainer", "from_run",
           "integrated_gradients", "run_data"]
