"""Screen: inspect the input before it goes anywhere.

A pass-through until content screening lands; it is a stage now so the pipeline's
order is fixed and screening slots in without touching its neighbours.
"""

from __future__ import annotations

from clearance.gateway.call import Call


class Screen:
    async def __call__(self, call: Call) -> None:
        return None
