"""The engine: a Run (one experiment of 1..64 members) and its parts — steppers, kernels, pacer, ledger, outbox."""
