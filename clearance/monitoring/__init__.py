"""Monitoring: cases investigators open, and the break-glass rule for raw content."""
