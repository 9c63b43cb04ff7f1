"""Operations: Prometheus metrics, structured logs, deprecation headers and the changelog."""
