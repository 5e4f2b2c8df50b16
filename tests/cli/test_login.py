"""``clearance login`` and ``logout``: a second operator — made by the first, as two-person
approval needs — signs in on the command line, enrols TOTP, and the commands after act
as them with no CLEARANCE_TOKEN; logging out revokes the token everywhere.

The first test runs ``clearance`` as its own processes, exactly as typed, answering the
prompts through a pipe; the rest run in-process (each new process spends a second
importing before it does anything)."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
from typer.testing import CliRunner, Result

from clearance.accounts import totp
from clearance.cli.main import app
from tests.support.leakscan import SCANNER
from tests.support.processes import CONSOLE_SCRIPT, FAST_PASSWORDS, clearance

RUNNER = CliRunner()
TOKEN = re.compile(r"\bclro_[0-9A-Za-z]{38}\b")


@pytest.fixture(autouse=True)
def no_token_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLEARANCE_TOKEN", raising=False)


def read_until(stream: object, ending: str, timeout: float = 60) -> str:
    """What ``stream`` (a process's pipe) says up to and including ``ending``."""
    seen, deadline = "", time.monotonic() + timeout
    while not seen.endswith(ending):
        assert time.monotonic() < deadline, f"no {ending!r} in {seen!r}"
        char = stream.read(1)  # type: ignore[attr-defined]
        assert char, f"the process ended before {ending!r}: {seen!r}"
        seen += char
    return seen


def test_a_second_operator_logs_in_enrols_totp_and_logs_out(tmp_path: Path) -> None:
    data, home = str(tmp_path / "data"), tmp_path / "home"
    env = {"HOME": str(home)}
    admin = json.loads(clearance("init", "--data-dir", data, "-o", "json").stdout)["token"]
    made = clearance(
        "operators", "create", "bob", "--role", "approver", "--data-dir", data, "-o", "json",
        token=admin,
    )  # fmt: skip
    password = json.loads(made.stdout)["initial_password"]

    login = subprocess.Popen(
        [CONSOLE_SCRIPT, "login", "--data-dir", data],  # as typed: it asks for everything
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **FAST_PASSWORDS, **env},
        start_new_session=True,  # no terminal to ask on: the password comes from the pipe
    )
    assert login.stdin is not None
    assert login.stderr is not None
    try:
        read_until(login.stderr, "Operator name: ")
        login.stdin.write("bob\n")
        login.stdin.flush()
        read_until(login.stderr, "Password: ")
        login.stdin.write(password + "\n")
        login.stdin.flush()
        shown = read_until(login.stderr, "Code from the authenticator: ")
        secret = re.search(r"^  ([A-Z2-7]{32})$", shown, re.M)
        uri = re.search(r"^  (otpauth://totp/\S+)$", shown, re.M)
        assert secret is not None, shown
        assert uri is not None, shown
        assert uri[1].startswith("otpauth://totp/Clearance:bob?")
        assert f"secret={secret[1]}" in uri[1]
        login.stdin.write(pyotp.TOTP(secret[1]).now() + "\n")
        login.stdin.flush()
        out, err = login.communicate(timeout=60)
    finally:
        login.kill()
    SCANNER.record_cli(["login"], out + err)  # the token is never printed
    assert login.returncode == 0, err
    assert out.startswith("Signed in as bob (approver).")
    assert "clearance logout" in out
    [stored] = list((home / ".config/clearance/tokens").iterdir())
    assert str(stored) in out
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    token = stored.read_text().strip()
    assert TOKEN.fullmatch(token)
    assert token not in out + err

    # The commands after act as bob, with no CLEARANCE_TOKEN.
    mine = json.loads(
        clearance("operators", "tokens", "list", "--data-dir", data, "-o", "json", env=env).stdout
    )
    assert [(t["role"], t["label"], t["revoked_at"]) for t in mine] == [
        ("approver", f"cli@{os.uname().nodename}", None)
    ]
    refused = clearance("orgs", "add", "X", "--country", "US", "--reason", "r",
                        "--data-dir", data, env=env, check=False)  # fmt: skip
    assert refused.returncode == 1
    assert "approver role may not do this (needs orgs:write)" in refused.stderr

    out = clearance("logout", "--data-dir", data, env=env).stdout
    assert out.startswith("Signed out bob: the token is revoked")
    assert not stored.exists()
    revoked = clearance("orgs", "list", "--data-dir", data, token=token, check=False)
    assert revoked.returncode == 1
    assert "invalid, expired or revoked" in revoked.stderr
    signed_out = clearance("orgs", "list", "--data-dir", data, env=env, check=False)
    assert "error: not signed in: run 'clearance login'" in signed_out.stderr
    # What login and logout wrote to the audit log, in order (as
    # tests/audit/test_every_change_audited.py classifies them).
    with sqlite3.connect(Path(data) / "clearance.db") as db:
        kinds = [kind for (kind,) in db.execute("SELECT kind FROM audit_entries ORDER BY seq")]
    assert kinds[-4:] == [
        "account.signed_in",  # with the TOTP enrolment, in the same entry
        "operator.token_issued",
        "account.signed_out",
        "operator.token_revoked",
    ], kinds
    again = clearance("logout", "--data-dir", data, env=env)
    assert again.stdout.strip() == "Not signed in to this installation."


@dataclass
class Installation:
    data: Path
    home: Path
    admin: str
    secrets: list[str]
    """The TOTP secrets the next enrolments get, in turn."""

    def env(self, **more: str) -> dict[str, str]:
        return {"HOME": str(self.home), **FAST_PASSWORDS, **more}

    def run(self, *args: str, input: str | None = None, token: str | None = None) -> Result:
        env = self.env(**({"CLEARANCE_TOKEN": token} if token else {}))
        return RUNNER.invoke(app, [*args, "--data-dir", str(self.data)], input=input, env=env)

    def operator(self, name: str, role: str = "reviewer") -> str:
        """A new operator's initial password."""
        made = self.run("operators", "create", name, "--role", role, "-o", "json", token=self.admin)
        assert made.exit_code == 0, made.output
        return str(json.loads(made.stdout)["initial_password"])

    def enrolled(self, name: str) -> tuple[str, pyotp.TOTP]:
        """A new operator who has signed in once, enrolling TOTP: password, TOTP."""
        password = self.operator(name)
        secret = pyotp.random_base32()
        self.secrets.append(secret)  # what enrolment will show (``new_secret``, patched)
        code = pyotp.TOTP(secret)
        done = self.login(name, f"{password}\n{code.now()}\n")
        assert done.exit_code == 0, done.output
        assert f"  {secret}\n" in done.stderr
        return password, code

    def login(self, name: str, answers: str, *more: str) -> Result:
        return self.run("login", "--name", name, "--password-stdin", *more, input=answers)

    @property
    def token_file(self) -> Path:
        [stored] = list((self.home / ".config/clearance/tokens").iterdir())
        return stored


@pytest.fixture
def installation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Installation:
    """An installation; CliRunner cannot answer a prompt after reading the output, so
    the TOTP secrets enrolments show are chosen here."""
    data = tmp_path / "data"
    init = RUNNER.invoke(app, ["init", "--data-dir", str(data), "-o", "json"])
    assert init.exit_code == 0, init.output
    secrets: list[str] = []
    monkeypatch.setattr(totp, "new_secret", lambda: secrets.pop(0))
    return Installation(data, tmp_path / "home", json.loads(init.stdout)["token"], secrets)


def next_code(totp: pyotp.TOTP) -> str:
    """The next step's code (within the allowed drift): the current one was used."""
    return totp.at(time.time() + totp.interval)


def test_sign_in_with_a_code_print_and_replace(installation: Installation) -> None:
    password, code = installation.enrolled("dana")
    first = installation.token_file.read_text().strip()

    printed = installation.login("dana", f"{password}\n{next_code(code)}\n", "--print")
    assert printed.exit_code == 0, printed.output
    assert TOKEN.fullmatch(printed.stdout.strip())  # the token alone, for $(…)
    assert "Authenticator code: " in printed.stderr
    assert installation.token_file.read_text().strip() == first  # --print stores nothing
    listed = installation.run("operators", "tokens", "list", "-o", "json")
    assert listed.exit_code == 0, listed.output
    assert [t["label"] for t in json.loads(listed.stdout)] == [f"cli@{os.uname().nodename}"] * 2


def test_a_new_sign_in_replaces_and_revokes_the_stored_one(installation: Installation) -> None:
    _, _ = installation.enrolled("erin")
    erins = installation.token_file.read_text().strip()
    installation.enrolled("fay")  # on the same account of this machine, after erin
    assert installation.token_file.read_text().strip() != erins
    who = installation.run("operators", "tokens", "list", "-o", "json")
    assert [t["revoked_at"] for t in json.loads(who.stdout)] == [None]  # fay's own
    stale = installation.run("orgs", "list", token=erins)
    assert stale.exit_code == 1
    assert "invalid, expired or revoked" in stale.stderr


def test_wrong_passwords_lock_the_account_with_one_clear_line(
    installation: Installation,
) -> None:
    password = installation.operator("gus")
    for _ in range(5):  # max_failed_logins
        wrong = installation.login("gus", "not the password\n")
        assert wrong.exit_code == 1
        assert wrong.stderr.splitlines()[-1] == "error: Wrong name or password."
    locked = installation.login("gus", password + "\n")
    assert locked.exit_code == 1
    assert locked.stderr.strip().splitlines() == [
        "error: too many failed sign-ins: the account is locked; try again in 15 minutes"
    ]
    assert "Traceback" not in locked.output


def test_a_wrong_code_and_a_cancelled_prompt(installation: Installation) -> None:
    password, _ = installation.enrolled("hal")
    wrong = installation.login("hal", f"{password}\n000000\n")
    assert wrong.exit_code == 1
    assert wrong.stderr.splitlines()[-1] == ("error: The authenticator code is wrong or expired.")
    cancelled = installation.login("hal", password + "\n")  # input ends at the code
    assert cancelled.exit_code == 1
    assert cancelled.stderr.splitlines()[-1] == "error: sign-in cancelled"
    needs_name = installation.run("login", "--password-stdin", input="x\n")
    assert needs_name.exit_code == 2
    assert "--password-stdin needs --name" in needs_name.output


def test_a_token_file_others_may_read_is_refused(installation: Installation) -> None:
    installation.enrolled("ida")
    installation.token_file.chmod(0o644)
    refused = installation.run("orgs", "list")
    assert refused.exit_code == 1
    assert "others may read it" in refused.stderr
    assert f"chmod 600 {installation.token_file}" in refused.stderr
