"""Generative pre-trained transformer: pretrain on a corpus, generate text, flag machine-generated text.

Modules: ``data`` (corpus, tokenizers, batches), ``model`` (GPTConfig, GPT), ``sizing`` (model size
from the budget), ``train`` (the training run), ``generate`` (sampling), ``detect`` (machine-text
statistics and calibration), ``finish`` (the run directory), ``run`` (GPTRun: a loaded run).
"""
