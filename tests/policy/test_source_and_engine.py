"""Compiling policy files (errors name file and line) and failing closed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import cedarpy
import pytest

from clearance.policy import entities as cedar
from clearance.policy.engine import EVALUATION_ERROR, decide, default_files, load_schema
from clearance.policy.source import (
    CompiledPolicies,
    PolicyError,
    PolicyMeta,
    compile_policies,
    split,
)
from tests.support.processes import PYTHON, clearance

SCHEMA = load_schema()
PERMIT = '@id("all")\npermit (principal, action, resource);\n'


def test_statements_are_split_outside_strings_and_comments() -> None:
    text = (
        "// a comment; with a semicolon\n"
        '@id("a") permit (principal, action, resource)\n'
        '  when { context.purpose == "x;y" };\n'
        "\n"
        '@id("b")\nforbid (principal, action, resource);\n'
    )
    statements = split("f.cedar", text)
    assert [(s.line, s.text.splitlines()[0]) for s in statements] == [
        (2, '@id("a") permit (principal, action, resource)'),
        (5, '@id("b")'),
    ]


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            PERMIT
            + '\n@id("x")\npermit (principal, action, resource) when { principal.foo == };\n',
            "p.cedar:4",
            "unexpected token",
        ),
        (PERMIT + "\npermit (principal, action, resource);\n", "p.cedar:4", "@id"),
        (
            PERMIT + '\n@id("all")\npermit (principal, action, resource);\n',
            "p.cedar:4",
            "already used at p.cedar:1",
        ),
        (
            PERMIT + '\n@id("c")\n@code("nonsense")\nforbid (principal, action, resource);\n',
            "p.cedar:4",
            "@code must be",
        ),
        (
            PERMIT
            + '\n\n@id("m")\nforbid (principal, action, resource) when { resource.nonexistent == 1 };\n',
            "p.cedar:5",
            "nonexistent",
        ),
        (PERMIT + '@id("t") permit (principal, action, resource)', "p.cedar:3", ""),
        (  # a name of before the severity axis: a forbid that could never fire
            PERMIT
            + '\n@id("old")\nforbid (principal, action, resource)\n'
            + 'when { context.categories.containsAny(["csam", "cbrn_weapons"]) };\n',
            "p.cedar:4",
            "no screening stage emits the content categories cbrn_weapons",
        ),
    ],
)
def test_errors_name_the_file_and_line(text: str, where: str, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        compile_policies({"p.cedar": text}, SCHEMA)
    assert where in str(caught.value)
    assert message in str(caught.value)


def test_an_empty_set_is_refused() -> None:
    with pytest.raises(PolicyError, match="empty"):
        compile_policies({"only-comments.cedar": "// nothing\n"}, SCHEMA)


def _request(entities: list[dict[str, object]]) -> tuple[cedarpy.Entities, dict[str, object]]:
    handle = cedarpy.Entities.from_json_str(json.dumps(entities))
    request = {
        "principal": cedar.uid("Key", "k"),
        "action": cedar.action("invoke"),
        "resource": cedar.uid("Model", "m"),
        "context": {},
    }
    return handle, request


def test_a_policy_referencing_a_missing_attribute_denies() -> None:
    """Cedar skips a policy whose evaluation errors and may still allow; we deny. (The
    validator rejects such a policy at load; this is the net under it.)"""
    text = (
        PERMIT
        + '\n@id("needs-attr")\nforbid (principal, action, resource) when { resource.nonexistent == 1 };\n'
    )
    statements = split("p.cedar", text)
    compiled = CompiledPolicies(
        policy_set=cedarpy.PolicySet.from_str(text),
        meta={
            "policy0": PolicyMeta("all", None, "permit", statements[0].where),
            "policy1": PolicyMeta("needs-attr", None, "forbid", statements[1].where),
        },
        files={"p.cedar": text},
        digest="test",
    )
    entities, request = _request([{"uid": cedar.uid("Model", "m"), "attrs": {}, "parents": []}])
    bare = cedarpy.is_authorized(request, compiled.policy_set, entities)
    assert bare.allowed  # what Cedar itself answers
    decision = decide(compiled, entities, request)
    assert not decision.allowed
    assert decision.code == "access_denied"
    assert EVALUATION_ERROR in decision.policies
    assert "nonexistent" in decision.errors[0]


def test_a_validated_policy_that_errors_at_run_time_also_denies() -> None:
    overflow = '@id("overflow")\nforbid (principal, action, resource) when { resource.min_org_tier * 9223372036854775807 > 0 };\n'
    compiled = compile_policies({"p.cedar": PERMIT + overflow}, SCHEMA)
    entities = cedarpy.Entities.from_json_str(
        json.dumps(
            [
                {
                    "uid": cedar.uid("Organization", "o"),
                    "attrs": {"tier": 1, "country": "US", "status": "active"},
                    "parents": [],
                },
                cedar.key("k", "o", "service_account:s", "active", "service_account", None),
                {
                    "uid": cedar.uid("Model", "m"),
                    "attrs": {
                        "name": "m",
                        "release": "public",
                        "controlled": False,
                        "export_control": "",
                        "min_org_tier": 2,
                        "max_risk": 0,
                        "risk": {d: 0 for d in ("cyber", "bio", "chem", "radnuc", "autonomy")},
                        "safeguards": [],
                    },
                    "parents": [],
                },
            ]
        ),
        SCHEMA,
    )
    context = {
        "purpose": "",
        "categories": [],
        "dual_use_categories": [],
        "entitled": True,
        "entitled_purposes": [],
        "source_country": "",
        "source_tier": 1,
        "org_country_tier": 1,
        "end_user_status": "",
    }
    request = {
        "principal": cedar.uid("Key", "k"),
        "action": cedar.action("invoke"),
        "resource": cedar.uid("Model", "m"),
        "context": context,
    }
    decision = decide(compiled, entities, request)
    assert not decision.allowed
    assert EVALUATION_ERROR in decision.policies


def test_the_shipped_defaults_compile() -> None:
    compiled = compile_policies(default_files(), SCHEMA)
    assert len(compiled.meta) >= 10
    assert all(meta.where.split(":")[0].endswith(".cedar") for meta in compiled.meta.values())


def test_serve_refuses_to_start_on_an_invalid_policy_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    clearance("init", "--data-dir", str(data))
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "10-good.cedar").write_text(PERMIT)
    (policies / "20-bad.cedar").write_text(
        '// header\n\n@id("broken")\nforbid (principal, action, resource) when { context.nope };\n'
    )
    result = subprocess.run(
        [
            PYTHON,
            "-m",
            "clearance",
            "serve",
            "--data-dir",
            str(data),
            "--port",
            "0",
            "--policy-dir",
            str(policies),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "20-bad.cedar:3" in result.stderr
    assert "broken" in result.stderr
