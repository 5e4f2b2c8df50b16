"""Topic summaries from real traffic: requests through the gateway, the monitor's deep
stage embedding them, and the admin API summarizing — sizes and shared terms only."""

from __future__ import annotations

from pathlib import Path

from clearance.identity.keys import KeyScope
from clearance.registry.models import ModelSpec
from tests.support.inprocess import in_process

ACTOR = "local:test"
BREAD = [
    f"How long should I proof sourdough bread dough at {t} degrees before baking it?"
    for t in range(18, 30)
]
KUBERNETES = [
    f"How do I configure kubernetes cluster autoscaling for {n} worker nodes in production?"
    for n in range(3, 15)
]


async def test_topics_are_sizes_and_shared_terms_never_text(
    tmp_path: Path, upstream_url: str
) -> None:
    async with in_process(tmp_path / "data") as ip:
        s = ip.services
        await s.models.add(ACTOR, "m", ModelSpec(upstream_url, "echo"))
        await s.organizations.add_direct(ACTOR, "Acme", "US", "test")
        await s.entitlements.grant(ACTOR, "Acme", "m", [])
        key = (await s.keys.create(ACTOR, "Acme", KeyScope())).secret
        await ip.refresh()
        for text in BREAD + KUBERNETES:
            answer = await ip.client.post(
                "/v1/chat/completions",
                json={"model": "m", "messages": [{"role": "user", "content": text}]},
                headers=ip.as_key(key),
            )
            assert answer.status_code == 200
        await s.usage_recorder.flush()
        while await s.monitor.step():
            pass
        response = await ip.client.get(
            "/admin/v1/monitor/topics",
            params={"org": "Acme", "min_size": 5},
            headers=ip.as_operator(ip.admin_token),
        )
        assert response.status_code == 200, response.text
        summary = response.json()
        assert summary["total"] == 24
        assert sorted(topic["size"] for topic in summary["topics"]) == [12, 12]
        labels = " ".join(topic["label"] for topic in summary["topics"])
        assert "bread" in labels
        assert "kubernetes" in labels
        for text in BREAD + KUBERNETES:
            assert text not in response.text
