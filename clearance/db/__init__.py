"""Storage: one relational schema on SQLite (embedded) or PostgreSQL (scaled out)."""
