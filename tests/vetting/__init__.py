"""Tests of organization vetting."""
