"""Remote operations with safeguards: request, guards, approval, outbox, dispatch, confirmation."""
