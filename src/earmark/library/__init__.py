"""Music libraries: tags, scanning, a web-service client, ``identify`` and ``import-audio``."""
