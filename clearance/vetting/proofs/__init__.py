"""Proofs an applicant gives during vetting: control of its domain and of its officer's
e-mail address."""
