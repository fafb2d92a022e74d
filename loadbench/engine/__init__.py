"""Load generation: the HTTP/1.1 client protocol, closed and open loops, stages, and backends."""
