"""The site's page groups: each module has ``ROUTES: list[BaseRoute]``, listed in
:data:`earmark.web.app.PAGES`."""
