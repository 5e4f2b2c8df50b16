"""An application for access, as submitted: who the organization is, who owns and
answers for it, what it wants and why. Every field is checked here, with an error that
names it (``beneficial_owners[1].share``); names may be in any script."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from clearance import domains, validation
from clearance.errors import InvalidInput
from clearance.vetting.proofs.domain import DomainError, normalize_domain

MAX_ALIASES = 20
MAX_OWNERS = 50
MAX_MODELS = 20
MAX_DESCRIPTION = 4000
MAX_ATTESTATION = 2000


@dataclass(frozen=True, slots=True)
class Owner:
    name: str
    country: str
    share: float
    """Percent of the organization owned, 0-100."""


@dataclass(frozen=True, slots=True)
class Officer:
    name: str
    email: str
    title: str


@dataclass(frozen=True, slots=True)
class ApplicationForm:
    legal_name: str
    aliases: tuple[str, ...]
    registration_number: str
    incorporation_country: str
    headquarters_country: str
    beneficial_owners: tuple[Owner, ...]
    officer: Officer
    website_domain: str
    requested_models: tuple[str, ...]
    purposes: tuple[str, ...]
    purpose_description: str
    scope_attestation: str
    sso: bool
    mfa: bool

    def document(self) -> dict[str, Any]:
        body = asdict(self)
        body["aliases"] = list(self.aliases)
        body["requested_models"] = list(self.requested_models)
        body["purposes"] = list(self.purposes)
        body["beneficial_owners"] = [asdict(owner) for owner in self.beneficial_owners]
        return body

    def countries(self) -> dict[str, str]:
        """Every country the application names, by where it is named."""
        found = {
            "incorporation_country": self.incorporation_country,
            "headquarters_country": self.headquarters_country,
        }
        for i, owner in enumerate(self.beneficial_owners):
            found[f"beneficial_owners[{i}].country"] = owner.country
        return found

    @classmethod
    def from_stored(cls, doc: dict[str, Any]) -> ApplicationForm:
        """A form as stored (checked when it was submitted): not checked again, so a
        rule tightened since never makes an application unreadable."""
        return cls(
            **{
                **doc,
                "aliases": tuple(doc["aliases"]),
                "beneficial_owners": tuple(Owner(**o) for o in doc["beneficial_owners"]),
                "officer": Officer(**doc["officer"]),
                "requested_models": tuple(doc["requested_models"]),
                "purposes": tuple(doc["purposes"]),
            }
        )

    @classmethod
    def from_document(cls, doc: Any) -> ApplicationForm:
        if not isinstance(doc, dict):
            raise InvalidInput("an application must be a JSON object", None)
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(doc) - known)
        if unknown:
            raise InvalidInput(f"unknown field {unknown[0]!r}", unknown[0])
        security = doc.get("security")
        sso, mfa = _bool(doc, "sso"), _bool(doc, "mfa")
        if security is not None:
            raise InvalidInput("give sso and mfa as top-level booleans", "security")
        return cls(
            legal_name=validation.display_name(_str(doc, "legal_name"), "legal_name"),
            aliases=tuple(
                validation.display_name(_item(a, f"aliases[{i}]"), f"aliases[{i}]")
                for i, a in enumerate(_list(doc, "aliases", MAX_ALIASES, required=False))
            ),
            registration_number=validation.display_name(
                _str(doc, "registration_number"), "registration_number", 64
            ),
            incorporation_country=validation.country_code(
                _str(doc, "incorporation_country"), "incorporation_country"
            ),
            headquarters_country=validation.country_code(
                _str(doc, "headquarters_country"), "headquarters_country"
            ),
            beneficial_owners=_owners(doc),
            officer=_officer(doc),
            website_domain=_domain(_str(doc, "website_domain")),
            requested_models=_models(doc),
            purposes=_purposes(doc),
            purpose_description=validation.free_text(
                _str(doc, "purpose_description"), "purpose_description", MAX_DESCRIPTION
            ),
            scope_attestation=validation.free_text(
                _str(doc, "scope_attestation"), "scope_attestation", MAX_ATTESTATION
            ),
            sso=sso,
            mfa=mfa,
        )


def _str(doc: dict[str, Any], field: str) -> str:
    value = doc.get(field)
    if value is None:
        raise InvalidInput(f"{field} is required", field)
    return _item(value, field)


def _item(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field)
    return value


def _bool(doc: dict[str, Any], field: str) -> bool:
    value = doc.get(field, False)
    if not isinstance(value, bool):
        raise InvalidInput(f"{field} must be true or false", field)
    return value


def _list(doc: dict[str, Any], field: str, limit: int, required: bool = True) -> list[Any]:
    value = doc.get(field)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise InvalidInput(f"{field} must be a list", field)
    if required and not value:
        raise InvalidInput(f"{field} must not be empty", field)
    if len(value) > limit:
        raise InvalidInput(f"{field} may hold at most {limit} items", field)
    return value


def _owners(doc: dict[str, Any]) -> tuple[Owner, ...]:
    owners = []
    for i, raw in enumerate(_list(doc, "beneficial_owners", MAX_OWNERS, required=False)):
        at = f"beneficial_owners[{i}]"
        if not isinstance(raw, dict) or set(raw) - {"name", "country", "share"}:
            raise InvalidInput(f"{at} must be an object with name, country and share", at)
        share = raw.get("share")
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 100:
            raise InvalidInput(
                f"{at}.share must be a percentage above 0 and at most 100", f"{at}.share"
            )
        owners.append(
            Owner(
                name=validation.display_name(_str(raw, "name"), f"{at}.name"),
                country=validation.country_code(_str(raw, "country"), f"{at}.country"),
                share=float(share),
            )
        )
    if sum(owner.share for owner in owners) > 100.0001:
        raise InvalidInput(
            "beneficial owners' shares add up to more than 100%", "beneficial_owners"
        )
    return tuple(owners)


def _officer(doc: dict[str, Any]) -> Officer:
    raw = doc.get("officer")
    if not isinstance(raw, dict) or set(raw) - {"name", "email", "title"}:
        raise InvalidInput("officer must be an object with name, email and title", "officer")
    return Officer(
        name=validation.display_name(_str(raw, "name"), "officer.name"),
        email=validation.email(_str(raw, "email"), "officer.email"),
        title=validation.display_name(_str(raw, "title"), "officer.title", 128),
    )


def _domain(value: str) -> str:
    try:
        return normalize_domain(value)
    except DomainError as exc:
        raise InvalidInput(f"website_domain: {exc}", "website_domain") from None


def _models(doc: dict[str, Any]) -> tuple[str, ...]:
    models = _list(doc, "requested_models", MAX_MODELS)
    names = [
        validation.slug(_item(m, f"requested_models[{i}]"), f"requested_models[{i}]")
        for i, m in enumerate(models)
    ]
    return tuple(dict.fromkeys(names))


def _purposes(doc: dict[str, Any]) -> tuple[str, ...]:
    raw = _list(doc, "purposes", len(domains.RISK_DOMAINS) * 2)
    return domains.purposes([_item(p, f"purposes[{i}]") for i, p in enumerate(raw)])
