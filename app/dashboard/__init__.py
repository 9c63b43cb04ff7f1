"""The internal dashboard page over /v1/stats."""
