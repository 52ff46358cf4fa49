"""Rehearsal: the whole campaign on loopback sandboxes, on a compressed clock."""
