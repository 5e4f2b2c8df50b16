"""Accounts: who signs in (operators, and organizations' officers and admins), how
(argon2id passwords, TOTP, sessions, role-scoped API tokens), and what each role may do."""
