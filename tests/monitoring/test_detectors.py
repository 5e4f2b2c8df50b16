"""The misuse detectors, fed synthetic traffic through their public interface."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clearance.errors import InvalidInput
from clearance.monitoring.detectors import DETECTOR_NAMES, build_detectors
from clearance.monitoring.detectors.base import Detector, Finding, Severity, UsageEvent
from clearance.monitoring.detectors.jailbreak import JailbreakProbing, JailbreakSettings
from clearance.monitoring.detectors.jurisdiction import BlockedJurisdiction, JurisdictionSettings
from clearance.monitoring.detectors.off_purpose import OffPurpose, OffPurposeSettings
from clearance.monitoring.detectors.prohibited import ProhibitedContent, ProhibitedSettings
from clearance.monitoring.detectors.sharing import CredentialSharing, SharingSettings, network
from clearance.monitoring.detectors.volume import VolumeAnomaly, VolumeSettings

T0 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)  # on a 10-minute boundary
_ids = itertools.count(1)


def event(minutes: float = 0.0, **changes: Any) -> UsageEvent:
    """A served request from org_a/key_a/user_a, ``minutes`` after T0."""
    values: dict[str, Any] = {
        "request_id": f"req_{next(_ids)}",
        "at": T0 + timedelta(minutes=minutes),
        "org_id": "org_a",
        "key_id": "key_a",
        "end_user": "user_a",
        "source_ip": "198.51.100.7",
        "country": "US",
        "tier": 1,
        "model": "model_x",
        "status_code": 200,
        "error_code": None,
    }
    values.update(changes)
    return UsageEvent(**values)


def refused(
    minutes: float = 0.0, error_code: str = "prohibited_content", **changes: Any
) -> UsageEvent:
    return event(minutes, status_code=403, error_code=error_code, **changes)


def feed(detector: Detector, events: Iterable[UsageEvent]) -> list[Finding]:
    findings = [finding for item in events for finding in detector.observe(item)]
    for finding in findings:
        assert finding.detector == detector.name
        json.dumps(finding.evidence)  # facts only, and storable
    return findings


def firing(detector: Detector, events: Iterable[UsageEvent]) -> list[int]:
    """The positions (0-based) of the events that produced a finding."""
    return [i for i, item in enumerate(events) if detector.observe(item)]


# --- prohibited ---------------------------------------------------------------------------


def test_a_prohibited_category_is_a_high_finding_even_when_served() -> None:
    attempt = event(categories=frozenset({"other_harm"}))
    assert ProhibitedContent().observe(attempt) == [
        Finding(
            detector="prohibited",
            severity=Severity.HIGH,
            org_id="org_a",
            summary="prohibited request: other_harm (served)",
            evidence={
                "request_id": attempt.request_id,
                "domains": ["other_harm"],
                "status_code": 200,
                "error_code": None,
                "model": "model_x",
            },
            key_id="key_a",
            end_user="user_a",
            at=attempt.at,
        )
    ]


def test_bio_chem_and_radnuc_attempts_are_critical() -> None:
    detector = ProhibitedContent()
    (bio,) = detector.observe(refused(categories=frozenset({"bio", "cyber"})))
    assert (bio.severity, bio.summary) == (
        Severity.CRITICAL,
        "prohibited request: bio, cyber (refused)",
    )
    assert bio.evidence["domains"] == ["bio", "cyber"]
    (deep,) = detector.observe(event(deep=frozenset({"other_harm", "radnuc"})))
    assert (deep.severity, deep.evidence["domains"]) == (
        Severity.CRITICAL,
        ["other_harm", "radnuc"],
    )
    (bare,) = detector.observe(refused())
    assert (bare.severity, bare.summary) == (
        Severity.HIGH,
        "prohibited request: unspecified (refused)",
    )


def test_a_dual_use_domain_outside_the_entitlement_counts_once_refused() -> None:
    detector = ProhibitedContent()
    attempt = refused(
        error_code="purpose_not_entitled",
        categories=frozenset({"cyber", "chem"}),
        entitled=frozenset({"cyber"}),
    )
    (finding,) = detector.observe(attempt)
    assert (finding.severity, finding.evidence["domains"]) == (Severity.CRITICAL, ["chem"])
    assert finding.evidence["error_code"] == "purpose_not_entitled"
    # Entitled use, and refusals for other reasons, are not attempts.
    assert detector.observe(event(categories=frozenset({"bio"}), entitled=frozenset({"bio"}))) == []
    assert detector.observe(refused(error_code="rate_limited", categories=frozenset({"bio"}))) == []
    assert (
        detector.observe(
            refused(
                error_code="purpose_not_entitled",
                categories=frozenset({"cyber"}),
                entitled=frozenset({"cyber"}),
            )
        )
        == []
    )
    assert detector.observe(event(categories=frozenset({"cyber"}))) == []


def test_prohibited_signals_count_whatever_the_entitlement_and_are_critical() -> None:
    detector = ProhibitedContent()
    weapon = refused(categories=frozenset({"bio", "bio_prohibited"}), entitled=frozenset({"bio"}))
    (finding,) = detector.observe(weapon)
    assert (finding.severity, finding.evidence["domains"]) == (
        Severity.CRITICAL,
        ["bio", "bio_prohibited"],
    )
    # Served because the inline stage missed it; the deep stage's flag still counts.
    missed = event(
        categories=frozenset({"cyber"}),
        deep=frozenset({"cyber", "cyber_prohibited"}),
        entitled=frozenset({"cyber"}),
    )
    (late,) = detector.observe(missed)
    assert (late.severity, late.evidence["domains"]) == (Severity.CRITICAL, ["cyber_prohibited"])
    assert late.summary == "prohibited request: cyber_prohibited (served)"
    (csam,) = detector.observe(event(categories=frozenset({"csam"})))
    assert csam.severity == Severity.CRITICAL


def test_every_attempt_is_its_own_finding_and_the_list_is_configurable() -> None:
    assert len(feed(ProhibitedContent(), [refused(m) for m in range(3)])) == 3
    custom = ProhibitedContent(ProhibitedSettings(prohibited=frozenset({"weapons"})))
    assert custom.observe(event(categories=frozenset({"other_harm"}))) == []
    assert len(custom.observe(event(categories=frozenset({"weapons"})))) == 1


# --- off-purpose --------------------------------------------------------------------------

ENTITLED = frozenset({"cyber"})


def on(minutes: float = 0.0, **changes: Any) -> UsageEvent:
    return event(minutes, categories=frozenset({"cyber"}), entitled=ENTITLED, **changes)


def off(
    minutes: float = 0.0, domains: frozenset[str] = frozenset({"bio"}), **changes: Any
) -> UsageEvent:
    return event(minutes, categories=domains, entitled=ENTITLED, **changes)


def test_a_sustained_share_of_off_purpose_requests_is_one_medium_finding() -> None:
    detector = OffPurpose()
    traffic = [on(i * 0.5) for i in range(95)] + [off(60 + i) for i in range(4)]
    traffic.append(off(70, frozenset({"bio", "chem"})))
    findings = feed(detector, traffic)
    assert findings == [
        Finding(
            detector="off_purpose",
            severity=Severity.MEDIUM,
            org_id="org_a",
            summary="off-purpose use: 5 of 100 requests in 24 h touched domains not entitled"
            " (bio 5, chem 1)",
            evidence={
                "by_domain": {"bio": 5, "chem": 1},
                "off_purpose": 5,
                "total": 100,
                "share": 0.05,
                "window_minutes": 1440.0,
                "request_id": traffic[-1].request_id,
            },
            at=traffic[-1].at,
        )
    ]


def test_off_purpose_needs_both_the_count_and_the_share() -> None:
    four = OffPurpose()
    assert feed(four, [off(i) for i in range(4)]) == []
    diluted = OffPurpose()
    assert feed(diluted, [on(i * 0.1) for i in range(295)] + [off(60 + i) for i in range(5)]) == []
    other_org = OffPurpose()
    traffic = [off(i, org_id=f"org_{i % 2}") for i in range(8)]
    assert feed(other_org, traffic) == []  # 4 and 4: counted per organization


def test_the_deep_stage_overrides_the_inline_stage() -> None:
    detector = OffPurpose()
    cleared = [off(i, deep=frozenset()) for i in range(5)]
    assert feed(detector, cleared) == []
    caught = [event(10 + i, deep=frozenset({"radnuc"}), entitled=ENTITLED) for i in range(5)]
    (finding,) = feed(detector, caught)
    assert finding.evidence["by_domain"] == {"radnuc": 5}


def test_off_purpose_cooldown_and_window() -> None:
    detector = OffPurpose()
    traffic = [off(i) for i in range(5)] + [off(30), off(64), off(66)]
    assert firing(detector, traffic) == [4, 6]  # quiet for an hour after the finding
    late = OffPurpose()
    # Four early ones have left the 24 h window when the fifth arrives.
    assert feed(late, [off(i) for i in range(4)] + [off(24 * 60 + 30)]) == []


def test_off_purpose_state_is_bounded() -> None:
    detector = OffPurpose(OffPurposeSettings(max_subjects=3))
    for i in range(50):
        detector.observe(off(i, org_id=f"org_{i}"))
        assert detector.tracked <= 3
    assert feed(detector, [off(60 + i, org_id="org_0") for i in range(4)]) == []  # forgotten
    detector.observe(on(3 * 24 * 60))  # everyone else idle past the window
    assert detector.tracked == 1


# --- volume -------------------------------------------------------------------------------


def buckets(counts: Iterable[int], first: int = 0, **changes: Any) -> list[UsageEvent]:
    """``counts[i]`` requests in the i-th 10-minute bucket, from bucket ``first``."""
    return [
        event((first + index) * 10 + n * 9 / max(count, 1), **changes)
        for index, count in enumerate(counts)
        for n in range(count)
    ]


def test_a_burst_well_above_the_baseline_is_one_medium_finding_per_bucket() -> None:
    detector = VolumeAnomaly()
    assert feed(detector, buckets([50] * 6)) == []
    burst = buckets([300], first=6)
    assert firing(detector, burst) == [150]  # the 151st request passes 3 × mean
    later = burst[150]
    detector = VolumeAnomaly()
    (finding,) = feed(detector, buckets([50] * 6) + burst)
    assert finding == Finding(
        detector="volume",
        severity=Severity.MEDIUM,
        org_id="org_a",
        summary="request volume: 151 requests in 10 min against a usual 50.0 ± 0.0",
        evidence={
            "count": 151,
            "mean": 50.0,
            "std": 0.0,
            "threshold": 150.0,
            "bucket_start": "2025-03-03T13:00:00+00:00",
            "bucket_minutes": 10.0,
        },
        at=later.at,
    )


def test_volume_uses_the_spread_and_the_floor() -> None:
    noisy = [40, 160] * 3  # mean 100, std 60: threshold mean + 4 std = 340
    detector = VolumeAnomaly()
    assert firing(detector, buckets(noisy) + buckets([400], first=6)) == [sum(noisy) + 340]
    quiet = VolumeAnomaly()
    # One request, then five silent buckets (zeros): the floor of 100 is what counts.
    traffic = buckets([1]) + buckets([120], first=6)
    assert firing(quiet, traffic) == [1 + 100]


def test_volume_needs_history() -> None:
    assert feed(VolumeAnomaly(), buckets([10] * 5) + buckets([500], first=5)) == []
    assert len(feed(VolumeAnomaly(), buckets([10] * 6) + buckets([500], first=6))) == 1
    assert feed(VolumeAnomaly(), buckets([1000])) == []


def test_volume_is_per_organization_and_bounded() -> None:
    detector = VolumeAnomaly(VolumeSettings(max_subjects=2, min_requests=10))
    traffic = buckets([5] * 6) + buckets([20], first=6, org_id="org_b")
    assert feed(detector, traffic) == []  # org_b has no history
    for i in range(10):
        detector.observe(event(70, org_id=f"org_{i}"))
        assert detector.tracked <= 2
    assert feed(detector, buckets([40], first=8)) == []  # org_a was forgotten


# --- credential sharing -------------------------------------------------------------------

COUNTRIES = ["US", "DE", "FR", "JP", "BR", "IN", "KE"]


def from_countries(minutes: list[float], key: str = "key_a") -> list[UsageEvent]:
    return [
        event(at, country=country, source_ip=f"203.0.{i}.9", key_id=key)
        for i, (at, country) in enumerate(zip(minutes, COUNTRIES, strict=False))
    ]


def test_a_key_used_from_five_countries_in_ten_minutes_is_a_high_finding() -> None:
    traffic = from_countries([0, 2, 4, 6, 9.5])
    assert feed(CredentialSharing(), traffic) == [
        Finding(
            detector="credential_sharing",
            severity=Severity.HIGH,
            org_id="org_a",
            summary="key used from 5 countries in 10 min: BR, DE, FR, JP, US",
            evidence={
                "countries": ["BR", "DE", "FR", "JP", "US"],
                "network_count": 5,
                "window_minutes": 10.0,
                "request_id": traffic[-1].request_id,
            },
            key_id="key_a",
            at=traffic[-1].at,
        )
    ]
    assert len(feed(CredentialSharing(), from_countries([0, 1, 2, 3, 10]))) == 1  # inclusive


def test_four_countries_or_five_over_more_than_ten_minutes_are_not() -> None:
    assert feed(CredentialSharing(), from_countries([0, 1, 2, 3])) == []
    assert feed(CredentialSharing(), from_countries([0, 3, 6, 9, 10.5])) == []
    assert feed(CredentialSharing(), from_countries([0, 4, 8, 12, 16, 20, 24])) == []
    split = from_countries([0, 1, 2], key="key_a") + from_countries([3, 4, 5], key="key_b")
    assert feed(CredentialSharing(), split) == []
    unknown = [event(i, country=None, source_ip=None) for i in range(6)]
    assert feed(CredentialSharing(), from_countries([0, 1, 2, 3]) + unknown) == []


def test_many_networks_in_one_country_are_a_medium_finding() -> None:
    same_subnet = [event(i * 0.1, source_ip=f"198.51.100.{i}") for i in range(40)]
    assert feed(CredentialSharing(), same_subnet) == []
    spread = [event(i * 0.1, source_ip=f"10.{i}.0.1") for i in range(25)]
    (finding,) = feed(CredentialSharing(), spread)
    assert (finding.severity, finding.evidence["network_count"]) == (Severity.MEDIUM, 20)
    assert finding.summary == "key used from 20 networks in 10 min"
    assert finding.evidence["countries"] == ["US"]
    junk = [event(i * 0.1, source_ip=ip) for i, ip in enumerate(["nope", "", "300.1.1.1"] * 10)]
    assert feed(CredentialSharing(), junk) == []


def test_networks_are_slash_24_and_slash_48() -> None:
    assert network("203.0.113.77") == "203.0.113.0/24"
    assert network("::ffff:203.0.113.77") == "203.0.113.0/24"
    assert network("2001:db8:aa:bb::1") == "2001:db8:aa::/48"
    assert network("2001:db8:aa:ffff::9") == network("2001:db8:aa::1")
    assert network("not-an-ip") is None
    assert network(None) is None


def test_sharing_cooldown() -> None:
    detector = CredentialSharing()
    first = from_countries([0, 1, 2, 3, 4, 5])
    assert firing(detector, first) == [4]  # the sixth country is within the cooldown
    again = from_countries([12, 12.5, 13, 13.5, 14])
    assert firing(detector, again) == [4]  # the cooldown is over at 14


def test_sharing_state_is_bounded() -> None:
    detector = CredentialSharing(SharingSettings(max_subjects=2))
    traffic = from_countries([0, 1, 2, 3])
    traffic += [event(4, key_id="key_b"), event(4, key_id="key_c")]
    traffic += [event(5, country="BR", key_id="key_a")]
    assert feed(detector, traffic) == []  # key_a's places were evicted
    assert detector.tracked == 2
    detector.observe(event(30, key_id="key_d"))
    assert detector.tracked == 1  # the others went idle


# --- blocked jurisdiction -----------------------------------------------------------------


def test_a_request_from_a_blocked_tier_is_a_high_finding() -> None:
    served = event(country="XX", tier=3)
    assert BlockedJurisdiction().observe(served) == [
        Finding(
            detector="blocked_jurisdiction",
            severity=Severity.HIGH,
            org_id="org_a",
            summary="request from blocked jurisdiction XX (tier 3, served)",
            evidence={
                "country": "XX",
                "tier": 3,
                "request_id": served.request_id,
                "refused": False,
            },
            key_id="key_a",
            end_user="user_a",
            at=served.at,
        )
    ]
    (blocked,) = BlockedJurisdiction().observe(
        refused(error_code="jurisdiction_blocked", country=None, tier=None)
    )
    assert blocked.summary == "request from blocked jurisdiction unknown (tier unknown, refused)"
    assert blocked.evidence["refused"] is True
    assert feed(BlockedJurisdiction(), [event(tier=2), event(tier=None), refused()]) == []


def test_jurisdiction_cooldown_is_per_key_and_country() -> None:
    detector = BlockedJurisdiction()
    traffic = [
        event(0, country="XX", tier=3),
        event(5, country="XX", tier=3),  # same key and country: quiet
        event(6, country="YY", tier=3),
        event(7, country="XX", tier=3, key_id="key_b"),
        event(10, country="XX", tier=3),  # cooldown over
    ]
    assert firing(detector, traffic) == [0, 2, 3, 4]
    strict = BlockedJurisdiction(JurisdictionSettings(blocked_tier=2))
    assert len(feed(strict, [event(tier=2)])) == 1


def test_jurisdiction_cooldowns_are_bounded() -> None:
    detector = BlockedJurisdiction(JurisdictionSettings(max_subjects=5))
    for i in range(20):
        detector.observe(event(0, country="XX", tier=3, key_id=f"key_{i}"))
        assert detector.tracked <= 5
    detector.observe(event(11, country="XX", tier=3))
    assert detector.tracked == 1


# --- jailbreak probing --------------------------------------------------------------------


def test_five_refusals_in_ten_minutes_are_a_high_finding() -> None:
    traffic = [refused(i) for i in range(4)] + [event(4.5)]
    traffic.append(refused(5, error_code="purpose_not_entitled", jailbreak_score=0.5))
    assert feed(JailbreakProbing(), traffic) == [
        Finding(
            detector="jailbreak_probing",
            severity=Severity.HIGH,
            org_id="org_a",
            summary="jailbreak probing: 5 refused and 0 jailbreak attempts in 10 min",
            evidence={
                "refused": 5,
                "hits": 0,
                "top_score": 0.5,
                "request_ids": [e.request_id for e in traffic if e.error_code],
                "window_minutes": 10.0,
            },
            key_id="key_a",
            end_user="user_a",
            at=traffic[-1].at,
        )
    ]


def test_three_jailbreak_hits_are_a_high_finding() -> None:
    detector = JailbreakProbing()
    traffic = [
        event(0, jailbreak_score=0.95),
        event(1, jailbreak_score=0.79),  # below the threshold
        event(2, deep=frozenset({"jailbreak"})),
        event(3, categories=frozenset({"jailbreak"})),
    ]
    (finding,) = feed(detector, traffic)
    assert (finding.evidence["hits"], finding.evidence["refused"]) == (3, 0)
    assert finding.evidence["top_score"] == 0.95
    assert finding.evidence["request_ids"] == [traffic[i].request_id for i in (0, 2, 3)]


def test_probing_is_judged_per_end_user_and_within_the_window() -> None:
    users = [refused(i, end_user=f"user_{i % 2}") for i in range(8)]
    assert feed(JailbreakProbing(), users) == []
    slow = [refused(i * 3) for i in range(6)]  # never five within ten minutes
    assert feed(JailbreakProbing(), slow) == []
    assert feed(JailbreakProbing(), [refused(i, error_code="rate_limited") for i in range(9)]) == []


def test_jailbreak_cooldown_and_request_id_list() -> None:
    detector = JailbreakProbing()
    traffic = [refused(i * 0.5) for i in range(10)] + [refused(12 + i * 0.5) for i in range(3)]
    assert firing(detector, traffic) == [4, 10]  # at 2, then when the cooldown ends at 12
    many = JailbreakProbing(JailbreakSettings(max_refused=12))
    burst = [refused(i * 0.1) for i in range(12)]
    (finding,) = feed(many, burst)
    assert finding.evidence["refused"] == 12
    assert finding.evidence["request_ids"] == [e.request_id for e in burst[-10:]]


def test_jailbreak_state_is_bounded() -> None:
    detector = JailbreakProbing(JailbreakSettings(max_subjects=3))
    for i in range(30):
        detector.observe(refused(0, end_user=f"user_{i}"))
        assert detector.tracked <= 3
    assert feed(detector, [refused(1, end_user="user_0") for _ in range(4)]) == []
    detector.observe(refused(20))
    assert detector.tracked == 1


# --- build_detectors ----------------------------------------------------------------------


def test_build_detectors_returns_all_six_in_order() -> None:
    detectors = build_detectors()
    assert [d.name for d in detectors] == list(DETECTOR_NAMES)
    assert DETECTOR_NAMES == (
        "prohibited",
        "off_purpose",
        "volume",
        "credential_sharing",
        "blocked_jurisdiction",
        "jailbreak_probing",
    )
    assert [d.name for d in build_detectors({})] == list(DETECTOR_NAMES)


def test_build_detectors_applies_overrides() -> None:
    detectors = build_detectors(
        {
            "volume": {"z": 5, "bucket_minutes": 15},
            "prohibited": {"prohibited": ["other_harm", "weapons"]},
            "credential_sharing": {"enabled": False},
            "jailbreak_probing": {"enabled": True, "max_hits": 2},
        }
    )
    by_name: dict[str, Any] = {d.name: d for d in detectors}
    assert "credential_sharing" not in by_name
    assert len(detectors) == 5
    assert by_name["volume"].settings == replace(VolumeSettings(), z=5.0, bucket_minutes=15.0)
    assert isinstance(by_name["volume"].settings.z, float)
    assert by_name["prohibited"].settings.prohibited == frozenset({"other_harm", "weapons"})
    assert by_name["jailbreak_probing"].settings.max_hits == 2
    assert by_name["off_purpose"].settings == OffPurposeSettings()


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"nope": {}}, "monitor_detectors.nope", "no detector 'nope'"),
        ({"volume": {"zz": 1}}, "monitor_detectors.volume.zz", "no setting 'zz'"),
        ({"volume": {"z": "high"}}, "monitor_detectors.volume.z", "must be a number"),
        ({"volume": {"z": True}}, "monitor_detectors.volume.z", "must be a number"),
        ({"volume": {"z": -1}}, "monitor_detectors.volume.z", "z must be 0 or more"),
        ({"volume": {"min_requests": 2.5}}, "monitor_detectors.volume.min_requests", "whole"),
        ({"volume": {"min_history": 40}}, "monitor_detectors.volume.min_history", "exceed"),
        ({"volume": 5}, "monitor_detectors.volume", "must be an object"),
        ({"off_purpose": {"min_share": 2}}, "monitor_detectors.off_purpose.min_share", "fraction"),
        (
            {"credential_sharing": {"window_minutes": 0}},
            "monitor_detectors.credential_sharing.window_minutes",
            "greater than 0",
        ),
        (
            {"prohibited": {"prohibited": "other_harm"}},
            "monitor_detectors.prohibited.prohibited",
            "list of strings",
        ),
        (
            {"jailbreak_probing": {"enabled": "no"}},
            "monitor_detectors.jailbreak_probing.enabled",
            "true or false",
        ),
        (
            {"jailbreak_probing": {"score_threshold": 1.5}},
            "monitor_detectors.jailbreak_probing.score_threshold",
            "between 0 and 1",
        ),
    ],
)
def test_build_detectors_refuses_bad_overrides(
    overrides: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        build_detectors(overrides)
    assert caught.value.field == field
    assert words in caught.value.message
    assert field.split(".")[1] in caught.value.message  # names the detector
