"""The website: server-rendered pages over the same databases and services as the API.

:func:`earmark.web.app.create_web_app` builds the Starlette app from
:class:`earmark.web.services.WebServices` (built by the composition root, :mod:`earmark.app`).
Pages come from the modules of :mod:`earmark.web.pages`, each with a ``ROUTES`` list; the
helpers they share are in ``render`` (templates), ``access`` (who is signed in, roles),
``forms`` (bounded, CSRF-checked form bodies) and ``session`` (the signed cookie).
docs/website.md ("For developers") says how to add a page.
"""
