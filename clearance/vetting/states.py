"""The life of an application, as a state machine: which action may move it from which
state to which. Anything not in the table is refused with the reason.

    submitted → screening → in_review → approved → provisioned → active
    (rejected from submitted, screening or in_review; an upheld appeal re-submits it,
    so it is screened again)
    active ⇄ suspended (suspend / reinstate; an upheld appeal reinstates)
    approved, provisioned, active, suspended → revoked (final)
    active, suspended → expired (re-vetting overdue); expired → submitted (re-vet)

Review is reached only through screening, so an application in review has always been
screened since it was last (re-)submitted.
"""

from __future__ import annotations

from enum import StrEnum

from clearance.errors import InvalidState


class AppStatus(StrEnum):
    SUBMITTED = "submitted"
    SCREENING = "screening"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    PROVISIONED = "provisioned"
    ACTIVE = "active"
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    EXPIRED = "expired"


class Action(StrEnum):
    SCREEN = "screen"
    SCREENED = "screened"
    APPROVE = "approve"
    REJECT = "reject"
    PROVISION = "provision"
    ACTIVATE = "activate"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"
    REVOKE = "revoke"
    EXPIRE = "expire"
    REVET = "revet"
    APPEAL_UPHELD = "appeal_upheld"


S = AppStatus
TRANSITIONS: dict[Action, tuple[frozenset[AppStatus], AppStatus]] = {
    Action.SCREEN: (frozenset({S.SUBMITTED}), S.SCREENING),
    Action.SCREENED: (frozenset({S.SCREENING}), S.IN_REVIEW),
    Action.APPROVE: (frozenset({S.IN_REVIEW}), S.APPROVED),
    Action.REJECT: (frozenset({S.SUBMITTED, S.SCREENING, S.IN_REVIEW}), S.REJECTED),
    Action.PROVISION: (frozenset({S.APPROVED}), S.PROVISIONED),
    Action.ACTIVATE: (frozenset({S.PROVISIONED}), S.ACTIVE),
    Action.SUSPEND: (frozenset({S.ACTIVE}), S.SUSPENDED),
    Action.REINSTATE: (frozenset({S.SUSPENDED}), S.ACTIVE),
    Action.REVOKE: (frozenset({S.APPROVED, S.PROVISIONED, S.ACTIVE, S.SUSPENDED}), S.REVOKED),
    Action.EXPIRE: (frozenset({S.ACTIVE, S.SUSPENDED}), S.EXPIRED),
    Action.REVET: (frozenset({S.EXPIRED}), S.SUBMITTED),
}

APPEALABLE: dict[AppStatus, AppStatus] = {S.REJECTED: S.SUBMITTED, S.SUSPENDED: S.ACTIVE}
"""What an upheld appeal restores: a rejection is submitted again (to be screened
afresh), a suspension ends."""

FINAL = frozenset({S.REVOKED})


def target(action: Action, current: AppStatus) -> AppStatus:
    """The state ``action`` leads to from ``current``; refuses an illegal move."""
    if action is Action.APPEAL_UPHELD:
        if current not in APPEALABLE:
            raise InvalidState(
                f"only a rejected or suspended application can be appealed; this one is "
                f"{current.value}"
            )
        return APPEALABLE[current]
    allowed, to = TRANSITIONS[action]
    if current not in allowed:
        froms = ", ".join(sorted(s.value for s in allowed))
        raise InvalidState(
            f"cannot {action.value.replace('_', ' ')} an application that is {current.value} "
            f"(only from: {froms})"
        )
    return to
