"""Statistics: maintained article counts, read counts, usage, and the /v1/stats endpoints."""
