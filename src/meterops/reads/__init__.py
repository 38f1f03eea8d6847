"""The meter-data store: frame contracts (``schema.py``) and the Delta Lake layout (``store.py``)."""
