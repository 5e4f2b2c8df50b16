"""Limits: requests and tokens per minute, concurrent requests, daily and monthly token
quotas — per key, key owner, end user, organization and model."""
