"""MusicBrainz enrichment: the mirror's lookup subset, its loaders, and lookup metadata.

Modules, lowest first: ``schema`` (tables from mbdata, schema mapping, connections),
``metadata`` (``lookup_metadata``), ``flags`` (the ``meta`` parameter), ``assemble`` and
``enrich`` (the JSON of ``/v2/lookup``), ``redirects`` (merged MBIDs for the cron task),
``copytext`` and ``dump`` (``mbdump.tar.bz2`` import), ``packet`` (+ ``packet_fields``),
``replication`` and ``replication_source`` (replication packets: read, apply, fetch), ``sample`` and
``synthetic`` (test and demo data). Nothing here touches the database or mbdata's models at
import time.
"""
