"""Identity: organizations, their API keys, and operator accounts."""
