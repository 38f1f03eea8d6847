"""Server-rendered pages (Jinja2 + HTMX) and the static files they use."""
