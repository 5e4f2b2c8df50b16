"""Policy: authorization decisions in Cedar, with the ids of the policies that decided."""
