"""The catalog API: ISRC-first music metadata lookups, search and batch over the MusicBrainz
mirror (docs/catalog.md), served by ``earmark run catalog`` and under ``/catalog`` in
``earmark serve``.

Modules: ``errors`` (the error envelope), ``params`` (validation of every untrusted input),
``limits`` (keys, the anonymous tier, rate limits), ``metrics``, ``render`` (the JSON shapes),
``handlers`` (the endpoints), ``spec`` (the OpenAPI document and the docs page), ``app`` (the
Starlette application). The reads of the mirror are named data functions in
:mod:`earmark.musicbrainz.catalog` and :mod:`earmark.musicbrainz.catalog_search`.
"""
