"""The meter-data store: frame contracts (``schema.py``) and the Delta layout (``store.py``)."""
