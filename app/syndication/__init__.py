"""Syndication formats: RSS, Atom and JSON Feed, IPTC ninjs and schema.org JSON-LD."""
