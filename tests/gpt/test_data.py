"""Corpus reading, tokenizers and batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mlpilot.errors import DataError
from mlpilot.tasks.gpt.data import (
    UNKNOWN_CHAR,
    BPETokenizer,
    CharTokenizer,
    StreamDecoder,
    TokenData,
    bpe_vocab_size,
    load_tokenizer,
    read_corpus,
    split_tokens,
)


def test_default_corpus_is_the_kjv_in_canonical_order(kjv_text):
    assert kjv_text.startswith("In the beginning God created the heaven and the earth.\n")
    assert kjv_text.rstrip().endswith("Amen.")
    assert 4_000_000 < len(kjv_text) < 4_600_000


def test_char_tokenizer_round_trip_and_unknown_characters(tmp_path):
    text = "And God said, Let there be light: and there was light.\n"
    tok = CharTokenizer.train(text)
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert tok.decode(tok.encode("light§")) == "light" + UNKNOWN_CHAR
    (tmp_path / "t.json").write_text(tok.to_json())
    again = load_tokenizer(tmp_path / "t.json")
    assert again.kind == "char" and list(again.encode(text)) == list(ids)


def test_bpe_tokenizer_round_trip(kjv_text, tmp_path):
    text = kjv_text[:50_000]
    tok = BPETokenizer.train(text, vocab_size=bpe_vocab_size(len(text)))
    assert 256 < tok.vocab_size <= bpe_vocab_size(len(text))
    sample = "Thou shalt love thy neighbour — naïve café ✓\n"
    ids = tok.encode(sample)
    assert tok.decode(ids) == sample  # byte level: no unknown tokens, even for unseen characters
    assert len(tok.encode(text[:5000])) < 5000 * 0.6  # merges actually compress
    (tmp_path / "t.json").write_text(tok.to_json())
    assert load_tokenizer(tmp_path / "t.json").decode(ids) == sample
    decoder = StreamDecoder(tok)
    streamed = "".join(decoder.push(i) for i in ids) + decoder.flush()
    assert streamed == sample


def test_bpe_vocab_size_follows_corpus_size():
    assert bpe_vocab_size(1_000) == 320
    assert bpe_vocab_size(4_000_000) == 3968
    assert bpe_vocab_size(10**9) == 8192


def test_split_and_batches():
    ids = np.arange(50_000, dtype=np.uint16)
    train, val = split_tokens(ids)
    assert len(val) == pytest.approx(5_000, rel=0.05) and len(train) + len(val) == len(ids)
    assert val.min() < 10_000 and val.max() > 40_000  # interleaved: validation covers the whole corpus
    data = TokenData(train, val, 1.0)
    gen = torch.Generator().manual_seed(0)
    x, y = data.get_batch("train", 4, 16, gen)
    assert x.shape == y.shape == (4, 16) and x.dtype == torch.long
    assert torch.equal(x[:, 1:], y[:, :-1])


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"), (b"", "empty"), (b"   \n", "empty"), (b"\x00\x01binary", "binary"),
    (b"caf\xe9", "UTF-8"),
])
def test_bad_corpora_are_one_clear_sentence(tmp_path, content, message):
    path = tmp_path / "corpus.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_corpus(path)


def test_folder_corpus(tmp_path):
    (tmp_path / "b.txt").write_text("second\n")
    (tmp_path / "a.txt").write_text("first\n")
    (tmp_path / "skip.bin").write_bytes(b"\x00")
    assert read_corpus(tmp_path) == "first\n\nsecond\n"
    with pytest.raises(DataError, match=r"no \.txt files"):
        read_corpus(tmp_path / "a.txt").strip() and read_corpus(_empty_dir(tmp_path))


def _empty_dir(root):
    folder = root / "empty"
    folder.mkdir()
    return folder
