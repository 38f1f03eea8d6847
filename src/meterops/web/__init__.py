"""The web app: JSON API and server-rendered pages over the capability services."""
