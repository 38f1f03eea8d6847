"""Sign-in: argon2 passwords, server-side sessions, CSRF tokens, throttled attempts."""
