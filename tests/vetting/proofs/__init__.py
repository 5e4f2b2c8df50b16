"""Tests of the domain and e-mail proofs, against real local servers."""
