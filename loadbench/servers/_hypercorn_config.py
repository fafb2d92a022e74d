"""hypercorn settings that have no command-line flag (read by `hypercorn --config python:<this module>`).

keep_alive_max_requests: hypercorn closes a keep-alive connection after 1,000 requests by default, which
would add reconnects (and TLS handshakes) to every measurement; no other model does that.
"""

keep_alive_max_requests = 1_000_000_000
