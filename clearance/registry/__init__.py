"""Model registry: the restricted models Clearance fronts and their upstreams."""
