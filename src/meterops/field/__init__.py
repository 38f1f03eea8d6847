"""The technician's field visit: today's stops, safety checks, exchanges, photos, verification."""
