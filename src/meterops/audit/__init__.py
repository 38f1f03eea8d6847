"""The audit trail: every state change records who, what, when and why."""
