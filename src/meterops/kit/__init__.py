"""Small shared helpers with no domain meaning (frame contracts, hashing)."""
