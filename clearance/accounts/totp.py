"""TOTP (RFC 6238, via pyotp) with replay protection.

A code is accepted for the current 30-second step or one step either side (clock
drift), and only if its step is later than the last step accepted for that account:
a code seen once is never good again, even within its window.
"""

from __future__ import annotations

from datetime import datetime

import pyotp

ISSUER = "Clearance"
STEP_SECONDS = 30
DRIFT_STEPS = 1


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, account: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER)


def matching_step(secret: str, code: str, at: datetime) -> int | None:
    """The time step ``code`` belongs to (near ``at``), or None if it matches none."""
    code = code.strip()
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now_step = int(at.timestamp()) // STEP_SECONDS
    for step in range(now_step - DRIFT_STEPS, now_step + DRIFT_STEPS + 1):
        if totp.verify(code, for_time=step * STEP_SECONDS):
            return step
    return None


def code_at(secret: str, at: datetime) -> str:
    """The code for the step containing ``at`` (for tests and enrolment checks)."""
    return pyotp.TOTP(secret).at(at)
