"""Sharing with consent: holders' device keys, their signed consents, and relying departments' requests."""
