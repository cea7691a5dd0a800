"""The website: pages, templates, static files and the parts they are built from."""
