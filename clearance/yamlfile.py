"""Reading YAML the way people write it: YAML 1.1's resolver turns ``NO`` (Norway),
``ON`` or ``yes`` into booleans, which breaks country codes. Here only ``true`` and
``false`` are booleans."""

from __future__ import annotations

import re
from typing import Any

import yaml


class _Loader(yaml.SafeLoader):
    pass


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load(text: str) -> Any:
    """Parse one YAML document; raises ``yaml.YAMLError`` on malformed input."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
