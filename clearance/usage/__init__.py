"""Usage: one durable record per gateway request."""
