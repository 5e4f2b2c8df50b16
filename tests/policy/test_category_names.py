"""The content categories the shipped policies name are the signals the classifiers
emit, name for name: a policy forbidding a category no stage can produce never fires
(as "cbrn_weapons" once did, while the classifiers said "bio")."""

from __future__ import annotations

from clearance.content.embedder import MODEL_DIR
from clearance.content.linear import LinearModel
from clearance.content.signals import PROHIBITED, SIGNALS
from clearance.policy.categories import categories_named
from clearance.policy.engine import default_files


def shipped() -> dict[str, set[str]]:
    named: dict[str, set[str]] = {}
    for text in default_files().values():
        named.update(categories_named(text))
    return named


def test_every_category_a_shipped_policy_names_is_a_signal_every_stage_scores() -> None:
    named = set().union(*shipped().values())
    assert named  # the reader found the content policy at all
    assert named - set(SIGNALS) == set()
    for stage in ("inline", "deep"):
        thresholds = LinearModel.load(MODEL_DIR / f"{stage}.npz").thresholds
        assert set(thresholds) == set(SIGNALS)
        assert all(thresholds[name] < 1.0 for name in named)  # a score can reach it


def test_the_prohibited_policy_names_exactly_the_prohibited_signals() -> None:
    assert shipped()["prohibited-content"] == set(PROHIBITED)


def test_a_category_no_stage_produces_is_caught() -> None:
    old = """
    @id("prohibited-content")
    forbid (principal, action, resource)
    when { context.categories.containsAny(["cbrn_weapons", "mass_casualty", "csam"]) };
    @id("no-cyber")
    forbid (principal, action, resource)
    when { context.categories.contains("cyber") && resource.release == "public" };
    """
    named = categories_named(old)
    assert named == {
        "prohibited-content": {"cbrn_weapons", "mass_casualty", "csam"},
        "no-cyber": {"cyber"},
    }
    assert set().union(*named.values()) - set(SIGNALS) == {"cbrn_weapons", "mass_casualty"}
