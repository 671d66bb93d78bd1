"""What an operator watches: structured logs, Prometheus metrics and health probes."""
