"""Webhooks: subscriptions, the outbox, signed delivery by `byline worker`, the embargo lift."""
