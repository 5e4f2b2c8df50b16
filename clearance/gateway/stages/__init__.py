"""The gateway's pipeline stages, one concern each, in the order requests meet them:
authenticate → screen → authorize → (limit) → forward → meter → record."""
