"""One async OpenAI-compatible client for vLLM, the OpenAI API and `transformers serve`: cached, resumable, resilient."""
