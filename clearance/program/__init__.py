"""The program file: models, country tables and policies, declared in one YAML file
kept in version control, applied idempotently, exported back."""
