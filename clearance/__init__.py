"""Clearance: a trusted-access gateway and control plane for restricted AI models."""

__version__ = "0.1.0"
