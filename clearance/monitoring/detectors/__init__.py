"""Misuse detectors: each watches the stream of usage events and reports findings."""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Any

from clearance.errors import InvalidInput
from clearance.monitoring.detectors.base import Detector
from clearance.monitoring.detectors.jailbreak import JailbreakProbing, JailbreakSettings
from clearance.monitoring.detectors.jurisdiction import BlockedJurisdiction, JurisdictionSettings
from clearance.monitoring.detectors.off_purpose import OffPurpose, OffPurposeSettings
from clearance.monitoring.detectors.prohibited import ProhibitedContent, ProhibitedSettings
from clearance.monitoring.detectors.sharing import CredentialSharing, SharingSettings
from clearance.monitoring.detectors.volume import VolumeAnomaly, VolumeSettings

_KINDS: tuple[tuple[str, type[Any], Callable[[Any], Detector]], ...] = (
    (ProhibitedContent.name, ProhibitedSettings, ProhibitedContent),
    (OffPurpose.name, OffPurposeSettings, OffPurpose),
    (VolumeAnomaly.name, VolumeSettings, VolumeAnomaly),
    (CredentialSharing.name, SharingSettings, CredentialSharing),
    (BlockedJurisdiction.name, JurisdictionSettings, BlockedJurisdiction),
    (JailbreakProbing.name, JailbreakSettings, JailbreakProbing),
)
DETECTOR_NAMES = tuple(name for name, _, _ in _KINDS)
SETTING = "monitor_detectors"


def build_detectors(overrides: Mapping[str, Mapping[str, Any]] | None = None) -> list[Detector]:
    """Every enabled detector, in a fixed order, with ``overrides`` (detector name to
    settings fields, e.g. ``{"volume": {"z": 5}}``) applied over the defaults."""
    overrides = {} if overrides is None else overrides
    if not isinstance(overrides, Mapping):
        raise InvalidInput(f"{SETTING} must map detector names to their settings", SETTING)
    for name in overrides:
        if name not in DETECTOR_NAMES:
            raise InvalidInput(
                f"{SETTING}: no detector {name!r} (detectors: {', '.join(DETECTOR_NAMES)})",
                f"{SETTING}.{name}",
            )
    detectors: list[Detector] = []
    for name, settings_type, make in _KINDS:
        settings = _settings(name, settings_type, overrides.get(name, {}))
        if settings.enabled:
            detectors.append(make(settings))
    return detectors


def _settings(name: str, settings_type: type[Any], values: Mapping[str, Any]) -> Any:
    where = f"{SETTING}.{name}"
    if not isinstance(values, Mapping):
        raise InvalidInput(f"{where} must be an object of settings", where)
    hints = typing.get_type_hints(settings_type)
    known = [item.name for item in fields(settings_type)]
    chosen: dict[str, Any] = {}
    for field, value in values.items():
        if field not in known:
            raise InvalidInput(
                f"{where}: no setting {field!r} (settings: {', '.join(known)})",
                f"{where}.{field}",
            )
        chosen[field] = _typed(hints[field], value, f"{where}.{field}")
    try:
        return settings_type(**chosen)
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: {exc.message}", f"{where}.{exc.field}") from None


def _typed(hint: Any, value: Any, where: str) -> Any:
    """``value`` as a setting of type ``hint``; JSON numbers and lists are accepted."""
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise InvalidInput(f"{where} must be true or false", where)
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise InvalidInput(f"{where} must be a whole number", where)
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise InvalidInput(f"{where} must be a number", where)
    if typing.get_origin(hint) is frozenset:
        if isinstance(value, list | tuple | set | frozenset) and all(
            isinstance(item, str) for item in value
        ):
            return frozenset(value)
        raise InvalidInput(f"{where} must be a list of strings", where)
    raise InvalidInput(f"{where} cannot be set", where)  # pragma: no cover
