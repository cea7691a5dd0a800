"""The fingerprint index: an acoustid-index compatible inverted index.

`earmark.index.engine` holds the storage engine (no HTTP); `server`, `api`, `codec`, `legacy`
and `metrics` wrap it as an HTTP/TCP service; `client` offers one interface over both.
"""
