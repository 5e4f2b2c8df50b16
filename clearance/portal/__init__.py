"""The organization portal API: officers and org admins manage their own members and
keys, within their organization's entitlements."""
