"""Content screening: scores per risk domain and a jailbreak signal for prompts and
completions, from a fast lexical stage inline and a deeper embedding stage behind."""
