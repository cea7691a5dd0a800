"""The API's self-description: the endpoint table (``endpoints``, in the vocabulary of
``terms``), the OpenAPI document built from it (``openapi``) and the docs page that renders it
(``docs``, with its files in ``static/``)."""
