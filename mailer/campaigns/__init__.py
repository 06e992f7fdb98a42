"""Campaigns: their lifecycle, the recipient snapshot, messages and the send engine."""
