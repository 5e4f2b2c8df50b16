"""What the Dockerfile ships — the wheel alone — holds everything Clearance needs to
run: its models, policies, schema, migrations. (CI has no container engine; this builds
and runs the same wheel the image installs, outside the source tree.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        args, capture_output=True, text=True, timeout=300, check=True, **kwargs
    )


def test_the_wheel_alone_initialises_and_classifies(tmp_path: Path) -> None:
    wheels, target, work = tmp_path / "wheels", tmp_path / "site", tmp_path / "work"
    work.mkdir()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    run([*pip, "wheel", "--no-deps", "-w", str(wheels), str(ROOT)])
    (wheel,) = wheels.glob("clearance-*.whl")
    run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)])
    env = {**os.environ, "PYTHONPATH": str(target), "CLEARANCE_PASSWORD_MEMORY_KIB": "64"}
    python = [sys.executable, "-P", "-m", "clearance"]
    where = run(
        [sys.executable, "-P", "-c", "import clearance; print(clearance.__file__)"],
        env=env,
        cwd=work,
    )
    assert where.stdout.strip().startswith(str(target)), "not the wheel's copy"
    init = run([*python, "init", "--data-dir", "data", "--output", "json"], env=env, cwd=work)
    assert json.loads(init.stdout)["token"].startswith("clro_")
    line = json.dumps({"id": "1", "text": "How do vaccines train the immune system?"})
    scored = run(
        [*python, "monitor", "classify", "-", "--stage", "inline"],
        env=env,
        cwd=work,
        input=line + "\n",
    )
    assert json.loads(scored.stdout.splitlines()[0])["id"] == "1"
    policies = run([*python, "policy", "defaults", "p"], env=env, cwd=work)
    assert policies.returncode == 0
    assert sorted(p.name for p in (work / "p").glob("*.cedar"))


def test_the_image_runs_as_a_user_and_the_unit_is_hardened() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "USER clearance" in dockerfile
    assert "pip install --no-cache-dir /wheels/*.whl" in dockerfile
    stages = dockerfile.split("\nFROM ")[1:]
    assert [stage.split()[0] for stage in stages] == ["python:3.11-slim"] * 2
    # What the image runs from is the wheel alone, never the source tree.
    copies = [line for line in stages[-1].splitlines() if line.startswith("COPY")]
    assert copies == ["COPY --from=build /wheels /wheels"]
    unit = (ROOT / "deploy" / "clearance.service").read_text()
    for line in ("User=clearance", "NoNewPrivileges=true", "ProtectSystem=strict"):
        assert line in unit
