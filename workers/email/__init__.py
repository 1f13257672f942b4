"""Three-phase email analysis (queue `email-processing`, job `process-emails`): rules, then an LLM
through Ollama, then a larger LLM for complete conversation chains; results in SQLite."""
